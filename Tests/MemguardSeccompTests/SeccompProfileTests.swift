import Glibc
import MemguardCore
import Testing
@testable import MemguardSeccomp

@Suite("Seccomp profiles: parsing and checking with libseccomp")
struct SeccompProfileTests {
    func profile(_ text: String) throws -> SeccompProfile { try SeccompProfile(bytes: Array(text.utf8), what: "p.json") }

    func error(_ text: String) -> String {
        do {
            _ = try SeccompCompiler.check(try profile(text), what: "p.json")
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func ociProfileIsCheckedAndCounted() throws {
        let p = try profile("""
        {"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
         "flags":["SECCOMP_FILTER_FLAG_LOG"],
         "syscalls":[{"names":["read","write","_llseek"],"action":"SCMP_ACT_ALLOW"},
                     {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"valueTwo":0,"op":"SCMP_CMP_EQ"}]},
                     {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}
        """)
        let summary = try SeccompCompiler.check(p, what: "p.json")
        #expect(summary.rules == 4)
        #expect(summary.redundant == 1) // mkdir -> EPERM is the default already
        #expect(summary.partial == ["_llseek"])
        #expect(summary.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
    }

    @Test func dockerArchMapIsFlattened() throws {
        let p = try profile("""
        {"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}],
         "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","comment":"","includes":{},"excludes":{}}]}
        """)
        #expect(p.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        #expect(try SeccompCompiler.check(p, what: "p.json").rules == 1)
    }

    @Test(arguments: [
        (#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["raed"],"action":"SCMP_ACT_ERRNO"}]}"#, #"syscalls[0]: syscall "raed" does not exist"#),
        (#"{"defaultAction":"SCMP_ACT_ALOW"}"#, #"unknown action "SCMP_ACT_ALOW""#),
        (#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQQ"}]}]}"#, #"syscalls[0].args[0]: unknown operator"#),
        (#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#, "index 6 is not 0-5"),
        (#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}"#, #"unknown architecture "SCMP_ARCH_Z80""#),
        (#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_BOGUS"]}"#, "flags[0]: unknown flag"),
        (#"{"defaultAction":"SCMP_ACT_ALLOW","sycalls":[]}"#, #"unknown field "sycalls""#),
        (#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":-1}]}"#, "errnoRet is not a non-negative integer"),
        (#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]}"#, "includes/excludes"),
        (#"{"syscalls":[]}"#, "defaultAction is missing"),
        (#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#, "seccomp agent"),
        (#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}"#, "names no syscall"),
    ])
    func badProfilesNameTheEntry(text: String, message: String) {
        #expect(error(text).contains(message), "\(error(text))")
    }

    @Test func renderedJSONParsesBackToTheSameProfile() throws {
        let p = try profile(#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["mmap"],"action":"SCMP_ACT_ALLOW","args":[{"index":2,"value":6,"valueTwo":2,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#)
        #expect(try profile(p.json) == p)
    }
}

@Suite("wx-deny")
struct WXDenyTests {
    @Test func aPermissiveDefaultGetsRefusingRules() throws {
        let out = try WXDeny.apply(to: WXDeny.allowAll())
        #expect(out.architectures.contains("SCMP_ARCH_X86")) // 32-bit calls get EACCES, not SIGSYS
        #expect(out.syscalls.allSatisfy { $0.action == "SCMP_ACT_ERRNO" && $0.errnoRet == UInt32(EACCES) })
        let memory = out.syscalls.filter { $0.names != ["personality"] }
        #expect(memory.map(\.names) == [["mmap"], ["mmap2"], ["mprotect"], ["pkey_mprotect"]])
        #expect(memory.allSatisfy { $0.args == [.init(index: 2, value: 6, valueTwo: 6, op: "SCMP_CMP_MASKED_EQ")] })
        // READ_IMPLIES_EXEC cannot be set; the query value 0xffffffff matches none of the rules.
        let personality = out.syscalls.filter { $0.names == ["personality"] }
        #expect(personality.count == 31)
        for rule in personality {
            let arg = rule.args[0]
            #expect(0x0400000 & arg.value == arg.valueTwo)      // bit 22 must be set ...
            #expect(0xffff_ffff & arg.value != arg.valueTwo)    // ... and the query never matches
        }
        _ = try SeccompCompiler.check(out, what: "wx-deny")
    }

    @Test func anAllowedPersonalityIsNarrowedToHarmlessValues() throws {
        let base = SeccompProfile(defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64"],
                                  syscalls: [.init(names: ["personality"], action: "SCMP_ACT_ALLOW", errnoRet: nil, args: [])])
        let out = try WXDeny.apply(to: base)
        #expect(out.syscalls.map(\.args) == [[.init(index: 0, value: 0x0400000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")],
                                             [.init(index: 0, value: 0xffff_ffff, valueTwo: 0, op: "SCMP_CMP_EQ")]])
        // Docker-style allow rules for fixed values without the bit are kept as they are.
        let docker = SeccompProfile(defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64"],
                                    syscalls: [.init(names: ["personality"], action: "SCMP_ACT_ALLOW", errnoRet: nil,
                                                     args: [.init(index: 0, value: 8, valueTwo: 0, op: "SCMP_CMP_EQ")])])
        #expect(try WXDeny.apply(to: docker) == docker)
    }

    @Test func anUnconditionalAllowIsNarrowedNotOverruled() throws {
        let base = SeccompProfile(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1, architectures: ["SCMP_ARCH_X86_64"],
                                  syscalls: [.init(names: ["read", "mmap", "mprotect"], action: "SCMP_ACT_ALLOW", errnoRet: nil, args: [])])
        let out = try WXDeny.apply(to: base)
        #expect(out.syscalls.filter { $0.args.isEmpty }.map(\.names) == [["read"]])
        let narrowed = out.syscalls.filter { !$0.args.isEmpty }
        #expect(narrowed.count == 6)
        for name in ["mmap", "mprotect"] {
            let rules = narrowed.filter { $0.names == [name] && $0.action == "SCMP_ACT_ALLOW" }
            #expect(Set(rules.map { $0.args.last!.valueTwo }) == [0, 2, 4])
        }
        _ = try SeccompCompiler.check(out, what: "wx-deny")
    }

    @Test func aProfileThatAlreadyFiltersProtIsRefused() {
        let base = SeccompProfile(defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64"],
                                  syscalls: [.init(names: ["mmap"], action: "SCMP_ACT_ALLOW", errnoRet: nil,
                                                   args: [.init(index: 2, value: 1, valueTwo: 0, op: "SCMP_CMP_EQ")])])
        #expect(throws: MemguardError.self) { try WXDeny.apply(to: base) }
    }
}

@Suite("Recorded profiles")
struct RecordedProfileTests {
    @Test func numbersBecomeSortedNamesPlusTheRuntimeBaseline() throws {
        // x86-64: 0 read, 1 write, 59 execve
        let p = RecordedProfile.make(syscalls: [59, 1, 0])
        #expect(p.defaultAction == "SCMP_ACT_ERRNO" && p.defaultErrnoRet == 1)
        #expect(p.syscalls.first?.names == ["execve", "read", "write"])
        #expect(p.syscalls.last?.names.contains("futex") == true)
        #expect(try SeccompCompiler.check(p, what: "recorded").rules > 3)
    }

    @Test func writesIntoTheDataDirectoryOnly() throws {
        var paths = MemguardPaths()
        paths.dataDir = "/tmp/memguard-unit-\(getpid())"
        defer { _ = unlink("\(paths.dataDir)/seccomp/app.json"); rmdir("\(paths.dataDir)/seccomp"); rmdir(paths.dataDir) }
        let path = try RecordedProfile.write(syscalls: [0], name: "app", paths: paths)
        #expect(path == "\(paths.dataDir)/seccomp/app.json")
        #expect(throws: MemguardError.self) { try RecordedProfile.write(syscalls: [0], name: "../evil", paths: paths) }
    }
}
