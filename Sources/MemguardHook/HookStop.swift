import CShims
import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes

/// poststop: ask the monitor to stop (it drains, writes its stop line and tears down on its
/// own, within tens of milliseconds) and return at once, so the runtime is not held up; if the
/// monitor is gone, tear down here.
struct HookStop {
    let container: ContainerID
    let stage: Hook.Stage
    let options: Hook.Options

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
            if let monitor = MonitorHandle(record) {
                defer { monitor.release() }
                monitor.signal(SIGTERM)
                // A stopped monitor would never act on it (and nobody would tear down).
                monitor.signal(SIGCONT)
                try? log?.write(Hook.hookRecord(container, stage: stage, result: "stopping-monitor", started: started))
                return 0
            }
            try? log?.write(Hook.hookRecord(container, stage: stage, result: "monitor-lost", started: started))
            try MonitorHandle.tearDownLost(record, container: container, paths: paths, log: log, reason: "monitor-lost (torn down by poststop)")
            return 0
        } catch {
            try? log?.write(Hook.errorRecord(container, stage: stage, error: error, started: started))
            printError("memguard hook \(stage.rawValue): container \(container): \(error)")
            return 1
        }
    }
}
