import CSeccomp
import Glibc
import MemguardCore

/// Checks a profile the way the runtime will use it: every action, operator, flag and
/// architecture known, every syscall name resolvable, every rule accepted by libseccomp.
public enum SeccompCompiler {
    public struct Summary: Equatable {
        /// Rules libseccomp accepted (one per syscall name per rule).
        public var rules: Int
        /// Rules left out because their action is the default action (as runc does).
        public var redundant: Int
        public var architectures: [String]
        public var defaultAction: String
        /// Syscall names that exist on some of the profile's architectures only.
        public var partial: [String]
    }

    static let flagsKnown: Set<String> = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                          "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    static let operators: [String: scmp_compare] = [
        "SCMP_CMP_NE": SCMP_CMP_NE, "SCMP_CMP_LT": SCMP_CMP_LT, "SCMP_CMP_LE": SCMP_CMP_LE, "SCMP_CMP_EQ": SCMP_CMP_EQ,
        "SCMP_CMP_GE": SCMP_CMP_GE, "SCMP_CMP_GT": SCMP_CMP_GT, "SCMP_CMP_MASKED_EQ": SCMP_CMP_MASKED_EQ,
    ]

    /// The libseccomp action value of an OCI action name.
    static func action(_ name: String, errnoRet: UInt32?, at: String) throws -> UInt32 {
        let errno16 = UInt16(truncatingIfNeeded: errnoRet ?? UInt32(EPERM))
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return SCMP_ACT_KILL_THREAD
        case "SCMP_ACT_KILL_PROCESS": return SCMP_ACT_KILL_PROCESS
        case "SCMP_ACT_TRAP": return SCMP_ACT_TRAP
        case "SCMP_ACT_ERRNO": return mg_scmp_act_errno(errno16)
        case "SCMP_ACT_TRACE": return mg_scmp_act_trace(errno16)
        case "SCMP_ACT_ALLOW": return SCMP_ACT_ALLOW
        case "SCMP_ACT_LOG": return SCMP_ACT_LOG
        case "SCMP_ACT_NOTIFY": throw MemguardError("\(at): SCMP_ACT_NOTIFY needs a seccomp agent, which memguard does not provide")
        default: throw MemguardError("\(at): unknown action \"\(name)\"")
        }
    }

    /// libseccomp's name for an OCI architecture ("SCMP_ARCH_X86_64" -> "x86_64").
    static func architecture(_ name: String, at: String) throws -> UInt32 {
        guard name.hasPrefix("SCMP_ARCH_") else { throw MemguardError("\(at): unknown architecture \"\(name)\"") }
        let token = seccomp_arch_resolve_name(String(name.dropFirst(10)).lowercased())
        guard token != 0 else { throw MemguardError("\(at): unknown architecture \"\(name)\"") }
        return token
    }

    /// The OCI name of the host's architecture.
    public static var nativeArchitecture: String {
        let native = seccomp_arch_native()
        let names = ["X86_64", "X86", "X32", "AARCH64", "ARM", "PPC64LE", "PPC64", "S390X", "RISCV64", "MIPS64", "MIPSEL64"]
        return "SCMP_ARCH_" + (names.first { seccomp_arch_resolve_name($0.lowercased()) == native } ?? "NATIVE")
    }

    /// True if `name` is a real syscall on at least one of the architectures (native if none).
    static func exists(_ name: String, on architectures: [String]) -> Bool {
        let tokens = architectures.isEmpty ? [seccomp_arch_native()] : architectures.compactMap { try? architecture($0, at: "") }
        return tokens.contains { seccomp_syscall_resolve_name_arch($0, name) >= 0 }
    }

    public static func check(_ profile: SeccompProfile, what: String) throws -> Summary {
        let defaultAction = try action(profile.defaultAction, errnoRet: profile.defaultErrnoRet, at: "\(what): defaultAction")
        guard let ctx = seccomp_init(defaultAction) else { throw MemguardError("\(what): seccomp_init failed") }
        defer { seccomp_release(ctx) }
        var arches: [UInt32] = []
        for (i, name) in profile.architectures.enumerated() {
            let token = try architecture(name, at: "\(what): architectures[\(i)]")
            let rc = seccomp_arch_add(ctx, token)
            if rc != 0 && rc != -EEXIST { throw MemguardError("\(what): adding architecture \(name)", errno: Errno(-rc)) }
            arches.append(token)
        }
        if arches.isEmpty { arches = [seccomp_arch_native()] }
        for (i, flag) in profile.flags.enumerated() where !flagsKnown.contains(flag) {
            throw MemguardError("\(what): flags[\(i)]: unknown flag \"\(flag)\"")
        }

        var summary = Summary(rules: 0, redundant: 0, architectures: profile.architectures.isEmpty ? [nativeArchitecture] : profile.architectures,
                              defaultAction: profile.defaultAction, partial: [])
        for (i, rule) in profile.syscalls.enumerated() {
            let at = "\(what): syscalls[\(i)]"
            let act = try action(rule.action, errnoRet: rule.errnoRet, at: at)
            var comparisons: [scmp_arg_cmp] = []
            for (j, arg) in rule.args.enumerated() {
                guard let op = operators[arg.op] else { throw MemguardError("\(at).args[\(j)]: unknown operator \"\(arg.op)\"") }
                guard arg.index < 6 else { throw MemguardError("\(at).args[\(j)]: index \(arg.index) is not 0-5") }
                comparisons.append(scmp_arg_cmp(arg: arg.index, op: op, datum_a: arg.value, datum_b: arg.valueTwo))
            }
            for name in rule.names {
                // libseccomp gives pseudo numbers (< 0) for syscalls it knows from other arches.
                let known = arches.filter { seccomp_syscall_resolve_name_arch($0, name) >= 0 }
                guard !known.isEmpty else {
                    throw MemguardError("\(at): syscall \"\(name)\" does not exist on \(summary.architectures.joined(separator: ", "))")
                }
                if known.count < arches.count && !summary.partial.contains(name) { summary.partial.append(name) }
                if act == defaultAction {
                    summary.redundant += 1
                    continue
                }
                let nr = seccomp_syscall_resolve_name(name)
                let rc = comparisons.withUnsafeBufferPointer {
                    seccomp_rule_add_array(ctx, act, nr, UInt32($0.count), $0.baseAddress)
                }
                guard rc == 0 else {
                    throw MemguardError("\(at): libseccomp refused the rule for \"\(name)\"", errno: Errno(-rc))
                }
                summary.rules += 1
            }
        }
        return summary
    }
}
