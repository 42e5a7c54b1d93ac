import CShims
import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes

/// `memguard hook <stage>`: the OCI hook. Reads the runtime state on stdin; for a container
/// that opted in, createRuntime (or prestart) starts monitoring and poststop ends it. Anything
/// else, and any container that did not opt in, is a no-op.
public enum Hook {
    public enum Stage: String, CaseIterable {
        case prestart, createRuntime, createContainer, startContainer, poststart, poststop

        public init?(argument: String) {
            let lowered = argument.lowercased().filter { $0 != "-" }
            guard let stage = Stage.allCases.first(where: { $0.rawValue.lowercased() == lowered }) else { return nil }
            self = stage
        }
    }

    public struct Options {
        public var paths = MemguardPaths.fromEnvironment()
        public var readyTimeoutMilliseconds: Int32 = 5000
        /// How long a monitor waits for poststop once its container's processes are gone
        /// (MEMGUARD_EXIT_GRACE_MS), before it cleans up on its own.
        public var exitGraceMilliseconds = 2000
        public init() {
            if let text = getenv("MEMGUARD_EXIT_GRACE_MS").map({ String(cString: $0) }), let value = Int(text), value >= 0 {
                exitGraceMilliseconds = value
            }
        }
    }

    /// Runs a stage; returns the exit code. Errors go to stderr (runc shows them) and, once
    /// the container is known, to the container's log.
    public static func run(stage: Stage, stdin: Int32, options: Options) -> Int32 {
        let state: OCIState
        let container: ContainerID
        do {
            state = try OCIState(json: FileSystem.readAll(fd: stdin, limit: OCIState.maxSize, what: "OCI state on stdin"))
            guard state.annotations[MonitorSettings.monitorKey] != nil else { return 0 }
            container = try ContainerID(state.id)
        } catch {
            printError("memguard hook \(stage.rawValue): \(error)")
            return 1
        }
        switch stage {
        case .prestart, .createRuntime:
            let started = Clock.nanoseconds(CLOCK_MONOTONIC)
            let settings: MonitorSettings
            do {
                guard let opted = try MonitorSettings(annotations: state.annotations) else { return 0 }
                settings = opted
            } catch {
                // The start is refused: say why on stderr (runc shows it) and in the log.
                var line = hookRecord(container, stage: stage, result: "error", started: started)
                line.add("severity", "error")
                line.add("error", "\(error)")
                try? EventLog(paths: options.paths, container: container).write(line)
                printError("memguard hook \(stage.rawValue): container \(container): \(error)")
                return 1
            }
            return HookStart(container: container, state: state, settings: settings, stage: stage, options: options).run()
        case .poststop:
            // Whatever the annotations say now, tear down what exists for this container.
            return HookStop(container: container, stage: stage, options: options).run()
        case .createContainer, .startContainer, .poststart:
            return 0
        }
    }

    static func printError(_ message: String) {
        _ = try? FileSystem.writeAll(fd: 2, Array((message + "\n").utf8), what: "stderr")
    }

    static func hookRecord(_ container: ContainerID, stage: Stage, result: String, started: UInt64) -> JSONLine {
        var line = EventLog.record(container, event: "hook")
        line.add("stage", stage.rawValue)
        line.add("result", result)
        line.add("duration_ms", fraction: Clock.millisecondsSince(started))
        return line
    }
}

/// createRuntime/prestart: resolve the scope, register with the probes, start the monitor.
struct HookStart {
    let container: ContainerID
    let state: OCIState
    let settings: MonitorSettings
    let stage: Hook.Stage
    let options: Hook.Options

    func run() -> Int32 {
        let started = Clock.nanoseconds(CLOCK_MONOTONIC)
        let log: EventLog
        do {
            log = try EventLog(paths: options.paths, container: container)
        } catch {
            Hook.printError("memguard hook \(stage.rawValue): container \(container): \(error)")
            return 1
        }
        do {
            let result = try start()
            var line = Hook.hookRecord(container, stage: stage, result: result, started: started)
            line.add("mode", settings.mode.rawValue)
            try? log.write(line)
            return 0
        } catch {
            let message = "memguard hook \(stage.rawValue): container \(container): \(error)"
            var line = Hook.hookRecord(container, stage: stage, result: "error", started: started)
            line.add("severity", "error")
            line.add("error", "\(error)")
            try? log.write(line)
            Hook.printError(message)
            return 1
        }
    }

    private func start() throws -> String {
        guard let pid = state.pid else {
            throw MemguardError("the OCI state has no pid (stage \(stage.rawValue) must run while the container's init exists)")
        }
        let paths = options.paths
        // prestart and createRuntime may both be configured: the second one finds the monitor.
        if let existing = try StateRecord.load(paths.stateFile(for: container)),
           processStartTime(existing.monitorPID) == existing.monitorStart {
            return "already-monitored"
        }
        let pidfd = mg_pidfd_open(pid)
        guard pidfd >= 0 else { throw MemguardError("opening a pidfd for the container's init (pid \(pid))", errno: .current) }
        defer { close(pidfd) }
        let scope = try ContainerScope.resolve(pid: pid)

        try FileSystem.makeDirectories(paths.stateDir)
        let lock = try FileLock(path: paths.lockFile)
        let (probes, _) = try ProbeSet.ensureLoaded(paths: paths)
        // Best effort: without it only the runtime's own memfd re-exec would be reported.
        try? probes.allowRuntime(pid: getppid())
        let registration = try ContainerProbe.register(scope, mode: settings.mode, probes: probes)
        lock.unlock()
        defer { close(registration.ringFD) }

        let monitorOptions = Monitor.Options(container: container, paths: paths, scope: scope, mode: settings.mode,
                                             initPID: pid, exitGraceMilliseconds: options.exitGraceMilliseconds)
        do {
            try MonitorLauncher.start(monitorOptions, ringFD: registration.ringFD, initPidfd: pidfd,
                                          timeoutMilliseconds: options.readyTimeoutMilliseconds)
        } catch {
            _ = try? ContainerTeardown.detach(cgroupID: scope.cgroupID, paths: paths)
            ContainerTeardown.removeFiles(paths: paths, container: container)
            throw error
        }
        return "monitoring"
    }
}

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
                try? log?.write(ContainerTeardown.stopRecord(container: container, reason: "monitor-lost (torn down by poststop)",
                                                             outcome: outcome, delivered: 0, undecodable: 0))
            }
            return 0
        } catch {
            var line = Hook.hookRecord(container, stage: stage, result: "error", started: started)
            line.add("severity", "error")
            line.add("error", "\(error)")
            try? log?.write(line)
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
