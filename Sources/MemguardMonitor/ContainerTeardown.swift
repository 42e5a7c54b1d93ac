import CMemguardABI
import Glibc
import MemguardCore
import MemguardProbes
import MemguardSeccomp

/// Removing one container's part of memguard, shared by the monitor (normal stop, container
/// gone) and by poststop (monitor gone). Every step tolerates having been done already.
public enum ContainerTeardown {
    public struct Outcome {
        /// The kernel's final counters for the container, if it was still registered.
        public var counters: mg_scope?
        /// True when this was the last container and the probe set was unloaded.
        public var unloaded: Bool
    }

    /// Under the probe lock: stops the kernel side for `cgroupID`, calls `drain` with the
    /// container's ring slot (nil if it was not registered) before the ring can go to another
    /// container, trims the spare rings and unloads the probes if no container is left.
    public static func detach(cgroupID: UInt64, paths: MemguardPaths,
                              drain: (_ slot: UInt32?, _ probes: ProbeSet) -> Void = { _, _ in }) throws -> Outcome {
        try FileSystem.makeDirectories(paths.stateDir)
        let lock = try FileLock(path: paths.lockFile)
        defer { lock.unlock() }
        guard let probes = try ProbeSet.openPinned(paths: paths) else {
            return Outcome(counters: nil, unloaded: false)
        }
        let counters = try ContainerProbe.unregister(cgroupID: cgroupID, probes: probes)
        drain(counters?.ring_slot, probes)
        try ContainerProbe.trimSpares(probes: probes)
        let unloaded = try ProbeSet.unloadIfUnused(paths: paths)
        return Outcome(counters: counters, unloaded: unloaded)
    }

    /// The container's files. The state file goes last: while it exists, something of the
    /// container may still be there.
    public static func removeFiles(paths: MemguardPaths, container: ContainerID) {
        try? FileSystem.removeFile(paths.metricsFile(for: container))
        try? FileSystem.removeFile(paths.stateFile(for: container))
    }

    /// Record mode: writes the profile of the syscalls the container made, and returns the log
    /// line that says where (or why not).
    public static func writeRecording(_ outcome: Outcome?, name: String, paths: MemguardPaths, container: ContainerID) -> JSONLine {
        var line = EventLog.record(container, event: "seccomp-recorded")
        guard let counters = outcome?.counters else {
            line.add("severity", "error")
            line.add("error", "the container's syscall record was lost with its registration")
            return line
        }
        let syscalls = counters.recordedSyscalls
        do {
            line.add("profile", try RecordedProfile.write(syscalls: syscalls, name: name, paths: paths))
            line.add("syscalls", syscalls.count)
        } catch {
            line.add("severity", "error")
            line.add("error", "\(error)")
        }
        return line
    }

    /// The stop record: why, the kernel's per-kind counters, what was delivered and lost.
    /// `previousOwner`: events of the pooled ring's previous container, dropped (shown when any).
    public static func stopRecord(container: ContainerID, reason: String, outcome: Outcome?, delivered: UInt64, undecodable: UInt64,
                                  previousOwner: UInt64 = 0, deliveredKey: String = "delivered") -> JSONLine {
        var line = EventLog.record(container, event: "monitor-stop")
        line.add("reason", reason)
        var counts = JSONLine()
        var lost = undecodable
        if let c = outcome?.counters {
            for (kind, count) in c.eventCounts { counts.add(kind.name, count) }
            line.add("counts", object: counts)
            line.add("mmap_calls", c.mmap_calls)
            line.add("mprotect_calls", c.mprotect_calls)
            line.add("foreign_pidns_calls", c.foreign_pidns)
            line.add("allowed_runtime_exec", c.allowed_runtime_exec)
            line.add("unjudged_mprotect_calls", c.unjudged_writes)
            lost += c.lost + c.no_ring
        } else {
            line.add("counts", object: counts)
        }
        line.add(deliveredKey, delivered)
        line.add("lost", lost)
        if previousOwner > 0 { line.add("dropped_previous_owner", previousOwner) }
        line.add("probes_unloaded", outcome?.unloaded ?? false)
        return line
    }
}
