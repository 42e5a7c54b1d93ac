import Glibc
import MemguardCore

/// The built-in wx-deny fragment: mmap, mprotect and pkey_mprotect asking for PROT_WRITE and
/// PROT_EXEC together fail with EACCES, decided by seccomp on the `prot` argument (masked
/// equality), so W^X holds in the kernel even where BPF cannot deny.
///
/// It is merged into a profile rather than appended: where the profile allows these syscalls
/// outright, that permission is narrowed to the three harmless combinations of the two bits
/// (neither, write only, exec only), because an unconditional allow would otherwise win.
public enum WXDeny {
    static let syscalls = ["mmap", "mmap2", "mprotect", "pkey_mprotect"]
    static let protIndex: UInt32 = 2
    static let writeExec: UInt64 = 0x6

    static func prot(equals value: UInt64) -> SeccompProfile.Arg {
        .init(index: protIndex, value: writeExec, valueTwo: value, op: "SCMP_CMP_MASKED_EQ")
    }

    static func isPermissive(_ action: String) -> Bool { action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG" }

    /// An allow-everything profile for containers that have none.
    public static func allowAll() -> SeccompProfile {
        SeccompProfile(defaultAction: "SCMP_ACT_ALLOW", architectures: [SeccompCompiler.nativeArchitecture], syscalls: [])
    }

    public static func apply(to profile: SeccompProfile) throws -> SeccompProfile {
        // mmap2 exists on 32-bit architectures only.
        let syscalls = Self.syscalls.filter { SeccompCompiler.exists($0, on: profile.architectures) }
        var out = profile
        out.syscalls = []
        for (i, rule) in profile.syscalls.enumerated() {
            let targeted = rule.names.filter(syscalls.contains)
            guard isPermissive(rule.action), !targeted.isEmpty else {
                out.syscalls.append(rule)
                continue
            }
            if rule.args.contains(where: { $0.index == protIndex }) {
                throw MemguardError("cannot add wx-deny: syscalls[\(i)] already compares the prot argument of \(targeted.joined(separator: ", "))")
            }
            var rest = rule
            rest.names = rule.names.filter { !syscalls.contains($0) }
            if !rest.names.isEmpty { out.syscalls.append(rest) }
            for value: UInt64 in [0x0, 0x2, 0x4] {
                var narrowed = rule
                narrowed.names = targeted
                narrowed.args = rule.args + [prot(equals: value)]
                out.syscalls.append(narrowed)
            }
        }
        if isPermissive(profile.defaultAction) {
            out.syscalls.append(.init(names: syscalls, action: "SCMP_ACT_ERRNO", errnoRet: UInt32(EACCES), args: [prot(equals: writeExec)]))
        }
        return out
    }
}
