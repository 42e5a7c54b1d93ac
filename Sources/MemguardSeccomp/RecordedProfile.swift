import CSeccomp
import Glibc
import MemguardCore

/// Record mode's output: a profile that allows the syscalls a container made (host
/// architecture, sorted names) and refuses everything else with EPERM.
///
/// The runtime installs the filter inside its own init, just before it executes the container's
/// program, so the init runs its last steps under the profile too. runc's init is a Go program
/// whose runtime makes a few syscalls at moments of its own choosing (preemption signals,
/// scheduling, thread wake-ups): a run may or may not show them. They are added as a second
/// rule so that a recorded profile does not fail one start in ten.
public enum RecordedProfile {
    public static let runtimeBaseline = ["clone", "epoll_pwait", "exit", "exit_group", "futex", "getpid", "gettid", "madvise",
                                         "mmap", "munmap", "nanosleep", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
                                         "sched_yield", "sigaltstack", "tgkill"]

    public static func directory(paths: MemguardPaths) -> String { "\(paths.dataDir)/seccomp" }

    public static func make(syscalls numbers: [Int32]) -> SeccompProfile {
        let native = seccomp_arch_native()
        let names = numbers.compactMap { nr -> String? in
            guard let name = seccomp_syscall_resolve_num_arch(native, nr) else { return nil }
            defer { free(name) }
            return String(cString: name)
        }.sorted()
        let baseline = runtimeBaseline.filter { !names.contains($0) }
        return SeccompProfile(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: UInt32(EPERM),
                              architectures: [SeccompCompiler.nativeArchitecture],
                              syscalls: [names, baseline].filter { !$0.isEmpty }.map { .init(names: $0, action: "SCMP_ACT_ALLOW", errnoRet: nil, args: []) })
    }

    /// Writes <data-dir>/seccomp/<name>.json (atomically, 0640) and returns its path.
    public static func write(syscalls: [Int32], name: String, paths: MemguardPaths) throws -> String {
        try MonitorSettings.checkProfileName(name, key: MonitorSettings.seccompRecordKey)
        let dir = directory(paths: paths)
        try FileSystem.makeDirectories(dir)
        let path = "\(dir)/\(name).json"
        let profile = make(syscalls: syscalls)
        _ = try SeccompCompiler.check(profile, what: "recorded profile \(path)")
        try FileSystem.writeAtomically(path, profile.json + "\n")
        return path
    }
}
