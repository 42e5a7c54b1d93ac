import CShims
import Glibc
import MemguardCore
import MemguardMonitor

/// A running monitor, found through its state record: signalled only if it is still the very
/// process the record names (pid and start time), never a reused pid.
struct MonitorHandle {
    let record: StateRecord
    private let pidfd: Int32

    /// nil when the monitor the record names is gone.
    init?(_ record: StateRecord) {
        let pid = record.monitorPID
        guard pid > 0, processStartTime(pid) == record.monitorStart else { return nil }
        let fd = mg_pidfd_open(pid)
        guard fd >= 0 else { return nil }
        // Checked again now that the pidfd pins the process: a pid reused in between is refused.
        guard processStartTime(pid) == record.monitorStart else {
            close(fd)
            return nil
        }
        self.record = record
        pidfd = fd
        // A monitor already killed can still look alive for a while (a SIGKILL waits until it
        // leaves an uninterruptible wait, such as an RCU grace period in a map update); a
        // signal to it would be lost with nobody left to tear down. It counts as gone, once it
        // has exited.
        if Self.isDying(pid) {
            _ = waitExit(milliseconds: 2000)
            close(fd)
            return nil
        }
    }

    /// True when `pid` has a SIGKILL pending or is exiting.
    static func isDying(_ pid: Int32) -> Bool {
        guard let status = try? FileSystem.readText("/proc/\(pid)/status", limit: 16384) else { return true }
        for line in status.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == ":" || $0 == "\t" || $0 == " " })
            guard fields.count >= 2 else { continue }
            switch fields[0] {
            case "State" where fields[1] == "Z" || fields[1] == "X":
                return true
            case "SigPnd", "ShdPnd":
                if let mask = UInt64(fields[1], radix: 16), mask & (1 << (UInt64(SIGKILL) - 1)) != 0 { return true }
            default:
                continue
            }
        }
        return false
    }

    func release() { close(pidfd) }

    func signal(_ signal: Int32) { _ = mg_pidfd_send_signal(pidfd, signal) }

    /// Waits for the monitor to exit; false on timeout.
    func waitExit(milliseconds: Int32) -> Bool {
        var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        let start = Clock.nanoseconds(CLOCK_MONOTONIC)
        while true {
            let left = milliseconds - Int32(Clock.millisecondsSince(start))
            if left <= 0 { return false }
            let rc = poll(&p, 1, left)
            if rc > 0 { return true }
            if rc < 0 && errno != EINTR { return false }
        }
    }

    /// Tears down what a monitor that is gone left behind, and writes its stop line for it.
    static func tearDownLost(_ record: StateRecord, container: ContainerID, paths: MemguardPaths, log: EventLog?, reason: String) throws {
        // One teardown per lost monitor: two poststops at once would otherwise both write a
        // stop line. The state file is claimed by renaming it; whoever cannot has lost the race.
        let stateFile = paths.stateFile(for: container)
        let claim = stateFile + ".teardown"
        if rename(stateFile, claim) != 0 {
            if errno == ENOENT { return }
            throw MemguardError("claiming \(stateFile) for the teardown", errno: .current)
        }
        defer { unlink(claim) }
        // What the monitor had not read yet goes to the log now, not to the ring's next owner.
        let leftovers = log.map { LeftoverEvents(container: container, cgroupID: record.cgroupID, log: $0) }
        var unreadable: Error?
        let outcome = try ContainerTeardown.detach(cgroupID: record.cgroupID, paths: paths) { slot, probes in
            guard let slot, let leftovers else { return }
            do { try leftovers.read(slot: slot, probes: probes) } catch { unreadable = error }
        }
        ContainerTeardown.removeFiles(paths: paths, container: container)
        if let unreadable {
            var line = EventLog.record(container, event: "monitor-warning")
            line.add("severity", "warning")
            line.add("warning", "events the lost monitor had not read could not be read: \(unreadable)")
            try? log?.write(line)
        }
        if !record.recordProfile.isEmpty {
            try? log?.write(ContainerTeardown.writeRecording(outcome, name: record.recordProfile, paths: paths, container: container))
        }
        // What the dead monitor had delivered died with it: the count here is what poststop read.
        try? log?.write(ContainerTeardown.stopRecord(container: container, reason: reason, outcome: outcome,
                                                     delivered: leftovers?.delivered ?? 0, undecodable: leftovers?.undecodable ?? 0,
                                                     previousOwner: leftovers?.previousOwner ?? 0, deliveredKey: "read_by_poststop"))
    }
}
