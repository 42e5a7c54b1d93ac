import Glibc
import MemguardCore
import MemguardProbes

/// Everything memguard could leave behind on a host, found by looking, not by bookkeeping:
/// kernel programs/maps/links named mg_*, pins, monitor processes, memguard cgroups (none are
/// made since monitors are capped by RLIMIT_DATA; still looked for) and state files. Empty
/// means the host is as it was.
public struct Leftovers: CustomStringConvertible {
    public var kernel = KernelObjects()
    public var pins: [String] = []
    public var monitors: [Int32] = []
    public var cgroups: [String] = []
    public var stateFiles: [String] = []
    public var metricsFiles: [String] = []

    public var isEmpty: Bool {
        kernel.isEmpty && pins.isEmpty && monitors.isEmpty && cgroups.isEmpty && stateFiles.isEmpty && metricsFiles.isEmpty
    }

    public var description: String {
        if isEmpty { return "nothing" }
        var parts: [String] = []
        if !kernel.isEmpty { parts.append("kernel objects: \(kernel)") }
        if !pins.isEmpty { parts.append("pins: \(pins)") }
        if !monitors.isEmpty { parts.append("monitor processes: \(monitors)") }
        if !cgroups.isEmpty { parts.append("cgroups: \(cgroups)") }
        if !stateFiles.isEmpty { parts.append("state files: \(stateFiles)") }
        if !metricsFiles.isEmpty { parts.append("metrics files: \(metricsFiles)") }
        return parts.joined(separator: "; ")
    }

    public static func find(paths: MemguardPaths) -> Leftovers {
        var found = Leftovers()
        found.kernel = KernelObjects.current()
        if FileSystem.exists(paths.pinDir) { found.pins = [paths.pinDir] + FileSystem.list(paths.pinDir) }
        found.monitors = monitorProcesses()
        let unified = (try? ContainerScope.cgroup2Mount(mountInfo: FileSystem.readText("/proc/self/mountinfo"))) ?? "/sys/fs/cgroup"
        for dir in ["\(unified)/memguard", "/sys/fs/cgroup/memory/memguard"] where FileSystem.exists(dir) {
            found.cgroups.append(dir)
        }
        found.stateFiles = FileSystem.list(paths.containersDir)
        found.metricsFiles = FileSystem.list(paths.metricsDir).filter { $0.hasSuffix(".prom") }
        return found
    }

    /// Waits up to `timeoutMilliseconds` for the host to be clean (the kernel frees programs
    /// and maps asynchronously after the last pin and fd are gone). Returns what is left.
    public static func waitUntilClean(paths: MemguardPaths, timeoutMilliseconds: Int = 3000) -> Leftovers {
        let start = Clock.nanoseconds(CLOCK_MONOTONIC)
        while true {
            let left = find(paths: paths)
            if left.isEmpty || Clock.millisecondsSince(start) > Double(timeoutMilliseconds) { return left }
            usleep(20_000)
        }
    }

    /// Live processes whose command line is `memguard monitor ...` (zombies have none).
    public static func monitorProcesses() -> [Int32] {
        FileSystem.list("/proc").compactMap { Int32($0) }.filter { pid in
            guard let cmdline = try? FileSystem.readFile("/proc/\(pid)/cmdline", limit: 65536) else { return false }
            let args = cmdline.split(separator: 0, omittingEmptySubsequences: false).prefix(2).map { String(decoding: $0, as: UTF8.self) }
            return args.count == 2 && args[0].hasSuffix("memguard") && args[1] == "monitor"
        }
    }
}
