import CShims
import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes

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
            try? log.write(Hook.errorRecord(container, stage: stage, error: error, started: started))
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
        let registration = try ContainerProbe.register(scope, settings: settings, probes: probes)
        lock.unlock()
        defer { close(registration.ringFD) }

        let monitorOptions = Monitor.Options(container: container, paths: paths, scope: scope, settings: settings,
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
