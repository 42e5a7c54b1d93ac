import Glibc
import MemguardCore

/// The monitor's memory cap: RLIMIT_DATA (heap and other private writable memory; the mapped
/// ring is shared and not counted), set by the monitor itself before it reports ready. Not a
/// cgroup: moving a process between cgroups makes every fork and exit on the host wait for an
/// RCU grace period (measured: 1.5-3 ms on a runc start), and a memory cgroup also charges the
/// log's page cache, which throttled the monitor's writes under an event burst until events
/// were lost. The monitor stays where the hook ran it: the runtime's cgroup, never the
/// container's.
public enum MonitorLimits {
    public static let dataBytes: rlim_t = 64 << 20

    /// Never raises a stricter limit the monitor inherited from the runtime.
    public static func apply() throws {
        let resource = __rlimit_resource_t(RLIMIT_DATA.rawValue)
        var limit = rlimit()
        try sys("reading RLIMIT_DATA of the monitor") { getrlimit(resource, &limit) }
        let capped = min(limit.rlim_max, dataBytes)
        limit = rlimit(rlim_cur: min(limit.rlim_cur, capped), rlim_max: capped)
        try sys("setting RLIMIT_DATA of the monitor") { setrlimit(resource, &limit) }
    }
}
