import Glibc
import MemguardCore

/// The monitor's memory cap: RLIMIT_DATA (heap and other private writable memory; the mapped
/// ring is shared and not counted), set by the monitor itself as it starts. Not a
/// cgroup: moving a process between cgroups makes every fork and exit on the host wait for an
/// RCU grace period (measured: 1.5-3 ms on a runc start), and a memory cgroup also charges the
/// log's page cache, which throttled the monitor's writes under an event burst until events
/// were lost. The monitor stays where the hook ran it: the runtime's cgroup, never the
/// container's.
public enum MonitorLimits {
    public static let dataBytes: rlim_t = 64 << 20

    /// The cap the monitor sets: 64 MiB, or a stricter limit it inherited from the runtime
    /// (never raised).
    public static func cap() -> rlim_t {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return dataBytes }
        return min(limit.rlim_cur, limit.rlim_max, dataBytes)
    }

    public static func apply() throws {
        var limit = rlimit()
        try sys("reading RLIMIT_DATA of the monitor") { getrlimit(resource, &limit) }
        let capped = min(limit.rlim_max, dataBytes)
        limit = rlimit(rlim_cur: min(limit.rlim_cur, capped), rlim_max: capped)
        try sys("setting RLIMIT_DATA of the monitor") { setrlimit(resource, &limit) }
    }

    static let resource = __rlimit_resource_t(RLIMIT_DATA.rawValue)
}
