import Glibc
import MemguardCore

/// The built-in wx-deny fragment, decided by seccomp on syscall arguments so that W^X holds in
/// the kernel even where BPF cannot deny:
/// - mmap, mmap2, mprotect and pkey_mprotect asking for PROT_WRITE and PROT_EXEC together fail
///   with EACCES (a masked comparison on `prot`);
/// - personality() cannot set READ_IMPLIES_EXEC, which would make every readable mapping
///   executable after seccomp has looked at `prot` (the query value 0xffffffff still works).
///
/// It is merged into a profile rather than appended: where the profile allows these syscalls
/// outright, that permission is narrowed to the harmless argument values, because an
/// unconditional allow would otherwise win.
public enum WXDeny {
    static let memorySyscalls = ["mmap", "mmap2", "mprotect", "pkey_mprotect"]
    static let protIndex: UInt32 = 2
    static let writeExec: UInt64 = 0x6
    static let readImpliesExec: UInt64 = 0x0400000
    static let personalityQuery: UInt64 = 0xffff_ffff

    static func masked(_ index: UInt32, mask: UInt64, equals value: UInt64) -> SeccompProfile.Arg {
        .init(index: index, value: mask, valueTwo: value, op: "SCMP_CMP_MASKED_EQ")
    }

    static func isPermissive(_ action: String) -> Bool { action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG" }

    /// An allow-everything profile for containers that have none: the host's architecture and
    /// its 32-bit companions, so 32-bit programs get EACCES like 64-bit ones instead of being
    /// killed for an unlisted architecture.
    public static func allowAll() -> SeccompProfile {
        let native = SeccompCompiler.nativeArchitecture
        let companions = ["SCMP_ARCH_X86_64": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"], "SCMP_ARCH_AARCH64": ["SCMP_ARCH_ARM"]][native] ?? []
        return SeccompProfile(defaultAction: "SCMP_ACT_ALLOW", architectures: [native] + companions, syscalls: [])
    }

    /// Arguments under which an allowed call stays harmless, one rule each.
    static func harmless(_ name: String) -> [SeccompProfile.Arg] {
        if name == "personality" {
            return [masked(0, mask: readImpliesExec, equals: 0),
                    .init(index: 0, value: personalityQuery, valueTwo: 0, op: "SCMP_CMP_EQ")]
        }
        return [0x0, 0x2, 0x4].map { masked(protIndex, mask: writeExec, equals: $0) }
    }

    /// Argument patterns to refuse where the default allows, one rule each. "READ_IMPLIES_EXEC
    /// set, and not the query value" is a union of single masked comparisons: bit 22 set and
    /// some other bit clear.
    static func refused(_ name: String) -> [SeccompProfile.Arg] {
        if name == "personality" {
            return (0..<32).filter { $0 != 22 }.map { bit in
                masked(0, mask: readImpliesExec | (1 << UInt64(bit)), equals: readImpliesExec)
            }
        }
        return [masked(protIndex, mask: writeExec, equals: writeExec)]
    }

    /// True if an allow rule's own comparisons already keep the call harmless.
    static func alreadyHarmless(_ name: String, _ rule: SeccompProfile.Rule) throws -> Bool {
        let index: UInt32 = name == "personality" ? 0 : protIndex
        let own = rule.args.filter { $0.index == index }
        if own.isEmpty { return false }
        if name == "personality",
           own.allSatisfy({ $0.op == "SCMP_CMP_EQ" && ($0.value & readImpliesExec == 0 || $0.value == personalityQuery) }) {
            return true
        }
        throw MemguardError("cannot add wx-deny: a rule allowing \(name) already compares argument \(index) in a way wx-deny cannot narrow")
    }

    public static func apply(to profile: SeccompProfile) throws -> SeccompProfile {
        // mmap2 exists on 32-bit architectures only.
        let targets = (memorySyscalls + ["personality"]).filter { SeccompCompiler.exists($0, on: profile.architectures) }
        var out = profile
        out.syscalls = []
        for rule in profile.syscalls {
            let targeted = rule.names.filter(targets.contains)
            guard isPermissive(rule.action), !targeted.isEmpty else {
                out.syscalls.append(rule)
                continue
            }
            var rest = rule
            rest.names = rule.names.filter { !targeted.contains($0) }
            for name in targeted {
                if try alreadyHarmless(name, rule) {
                    rest.names.append(name)
                    continue
                }
                for arg in harmless(name) {
                    var narrowed = rule
                    narrowed.names = [name]
                    narrowed.args = rule.args + [arg]
                    out.syscalls.append(narrowed)
                }
            }
            if !rest.names.isEmpty { out.syscalls.insert(rest, at: out.syscalls.endIndex) }
        }
        if isPermissive(profile.defaultAction) {
            for name in targets {
                for arg in refused(name) {
                    out.syscalls.append(.init(names: [name], action: "SCMP_ACT_ERRNO", errnoRet: UInt32(EACCES), args: [arg]))
                }
            }
        }
        return out
    }
}
