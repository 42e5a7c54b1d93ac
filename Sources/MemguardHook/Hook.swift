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
        var options = options
        switch stage {
        case .prestart, .createRuntime:
            let started = Clock.nanoseconds(CLOCK_MONOTONIC)
            let settings: MonitorSettings
            do {
                let host = try options.paths.loadHostConfig()
                guard let opted = try MonitorSettings(annotations: state.annotations, host: host) else { return 0 }
                try opted.checkSeccompInstalled(annotations: state.annotations)
                settings = opted
            } catch {
                // The start is refused: say why on stderr (runc shows it) and in the log.
                try? EventLog(paths: options.paths, container: container).write(errorRecord(container, stage: stage, error: error, started: started))
                printError("memguard hook \(stage.rawValue): container \(container): \(error)")
                return 1
            }
            return HookStart(container: container, state: state, settings: settings, stage: stage, options: options).run()
        case .poststop:
            // Whatever the annotations or the host policy say now, tear down what exists.
            if let host = try? HostConfig.load(paths: options.paths) { options.paths.adopt(host) }
            return HookStop(container: container, stage: stage, options: options).run()
        case .createContainer, .startContainer, .poststart:
            return 0
        }
    }

    static func errorRecord(_ container: ContainerID, stage: Stage, error: Error, started: UInt64) -> JSONLine {
        var line = hookRecord(container, stage: stage, result: "error", started: started)
        line.add("severity", "error")
        line.add("error", "\(error)")
        return line
    }

    static func hookRecord(_ container: ContainerID, stage: Stage, result: String, started: UInt64) -> JSONLine {
        var line = EventLog.record(container, event: "hook")
        line.add("stage", stage.rawValue)
        line.add("result", result)
        line.add("duration_ms", fraction: Clock.millisecondsSince(started))
        return line
    }
}
