import CShims
import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes

/// poststop: stop the monitor (it drains and tears down); if it is gone, tear down here.
struct HookStop {
    let container: ContainerID
    let stage: Hook.Stage
    let options: Hook.Options

    static let monitorStopTimeoutMilliseconds: Int32 = 5000

    func run() -> Int32 {
        let started = Clock.nanoseconds(CLOCK_MONOTONIC)
        let paths = options.paths
        let logExists = FileSystem.exists(paths.logFile(for: container))
        let log = logExists ? try? EventLog(paths: paths, container: container) : nil
        do {
            guard let record = try StateRecord.load(paths.stateFile(for: container)) else {
                try? log?.write(Hook.hookRecord(container, stage: stage, result: "not-monitored", started: started))
                return 0
            }
            try? log?.write(Hook.hookRecord(container, stage: stage, result: "stopping-monitor", started: started))
            if try !stopMonitor(record) {
                // The monitor is gone (killed, crashed): do its teardown and write its stop line.
                let outcome = try ContainerTeardown.detach(cgroupID: record.cgroupID, paths: paths)
                ContainerTeardown.removeFiles(paths: paths, container: container)
                if !record.recordProfile.isEmpty {
                    try? log?.write(ContainerTeardown.writeRecording(outcome, name: record.recordProfile, paths: paths, container: container))
                }
                try? log?.write(ContainerTeardown.stopRecord(container: container, reason: "monitor-lost (torn down by poststop)",
                                                             outcome: outcome, delivered: 0, undecodable: 0))
            }
            return 0
        } catch {
            try? log?.write(Hook.errorRecord(container, stage: stage, error: error, started: started))
            Hook.printError("memguard hook \(stage.rawValue): container \(container): \(error)")
            return 1
        }
    }

    /// Signals the monitor and waits until it has exited. False if there was no monitor or it
    /// did not finish its own teardown.
    private func stopMonitor(_ record: StateRecord) throws -> Bool {
        let pid = record.monitorPID
        guard pid > 0, processStartTime(pid) == record.monitorStart else { return false }
        let pidfd = mg_pidfd_open(pid)
        guard pidfd >= 0 else { return false }
        defer { close(pidfd) }
        // The start time was checked before the pidfd was opened: check again so a pid reused
        // in between is never signalled.
        guard processStartTime(pid) == record.monitorStart else { return false }
        _ = mg_pidfd_send_signal(pidfd, SIGTERM)
        var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        let start = Clock.nanoseconds(CLOCK_MONOTONIC)
        while true {
            let left = Self.monitorStopTimeoutMilliseconds - Int32(Clock.millisecondsSince(start))
            if left <= 0 {
                _ = mg_pidfd_send_signal(pidfd, SIGKILL)
                return false
            }
            let rc = poll(&p, 1, left)
            if rc > 0 { break }
            if rc < 0 && errno != EINTR { break }
        }
        return !FileSystem.exists(options.paths.stateFile(for: container))
    }
}
