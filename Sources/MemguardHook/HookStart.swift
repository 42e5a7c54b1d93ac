import CMemguardABI
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
            printError("memguard hook \(stage.rawValue): container \(container): \(error)")
            return 1
        }
        do {
            let result = try start(log: log)
            var line = Hook.hookRecord(container, stage: stage, result: result, started: started)
            line.add("mode", settings.mode.rawValue)
            try? log.write(line)
            return 0
        } catch {
            if settings.failure == .open {
                // failure=open: the container starts, unmonitored, and everybody is told.
                let message = "memguard hook \(stage.rawValue): container \(container): WARNING: monitoring could not be set up, the container starts UNMONITORED (failure=open): \(error)"
                var line = Hook.errorRecord(container, stage: stage, error: error, started: started)
                line.add("failure", "open")
                line.add("warning", "the container runs UNMONITORED")
                try? log.write(line)
                printError(message)
                return 0
            }
            let message = "memguard hook \(stage.rawValue): container \(container): \(error)"
            try? log.write(Hook.errorRecord(container, stage: stage, error: error, started: started))
            printError(message)
            return 1
        }
    }

    /// A container of the same id that has just ended (poststop returns before its monitor has
    /// finished) or whose monitor died: let it finish, or finish it, before starting anew.
    private func finishPreviousIncarnation(_ record: StateRecord, log: EventLog) throws {
        if let monitor = MonitorHandle(record) {
            defer { monitor.release() }
            let finished = { !FileSystem.exists(self.options.paths.stateFile(for: self.container)) }
            if monitor.waitExit(milliseconds: 3000) && finished() { return }
            monitor.signal(SIGTERM)
            if monitor.waitExit(milliseconds: 2000) && finished() { return }
            monitor.signal(SIGKILL)
            _ = monitor.waitExit(milliseconds: 1000)
        }
        try MonitorHandle.tearDownLost(record, container: container, paths: options.paths, log: log,
                                       reason: "monitor-lost (torn down before the container's next start)")
    }

    /// The container's JIT allowlist by executable identity: the host's and annotation's paths
    /// (all W^X kinds) and a learned baseline's entries (the kinds it learned). Paths that do
    /// not exist in this container's root are reported, not fatal.
    private func allowlist(log: EventLog) throws -> [ContainerProbe.Allowed] {
        var wanted = settings.allowWX.map { ($0, ContainerProbe.wxKinds) }
        if let name = settings.baseline, settings.mode != .learn {
            let baseline = try Baseline.load(name, paths: options.paths)
            wanted += baseline.entries.map { entry in (entry.path, Set(entry.kinds.compactMap(EventKind.init(name:)))) }
        }
        guard !wanted.isEmpty else { return [] }
        let rootfs = try ContainerRootfs(bundle: state.bundle)
        var entries: [ContainerProbe.Allowed] = []
        var missing: [String] = []
        for (path, kinds) in wanted {
            if let id = try rootfs.identity(of: path) {
                entries.append(.init(ino: id.ino, dev: id.dev, kinds: kinds))
            } else {
                missing.append(path)
            }
        }
        if !missing.isEmpty {
            var line = EventLog.record(container, event: "allowlist-missing")
            line.add("severity", "warning")
            line.add("paths", strings: missing)
            try? log.write(line)
        }
        return entries
    }

    private func start(log: EventLog) throws -> String {
        guard let pid = state.pid else {
            throw MemguardError("the OCI state has no pid (stage \(stage.rawValue) must run while the container's init exists)")
        }
        let paths = options.paths
        if let existing = try StateRecord.load(paths.stateFile(for: container)) {
            if existing.initPID == pid, let monitor = MonitorHandle(existing) {
                // prestart and createRuntime both configured: the second finds the monitor.
                monitor.release()
                return "already-monitored"
            }
            try finishPreviousIncarnation(existing, log: log)
        }
        let pidfd = mg_pidfd_open(pid)
        guard pidfd >= 0 else { throw MemguardError("opening a pidfd for the container's init (pid \(pid))", errno: .current) }
        defer { close(pidfd) }
        let scope = try ContainerScope.resolve(pid: pid)
        let allowed = try allowlist(log: log)

        try FileSystem.makeDirectories(paths.stateDir)
        let lock = try FileLock(path: paths.lockFile)
        let (probes, _) = try ProbeSet.ensureLoaded(paths: paths)
        // Best effort: without it only the runtime's own memfd re-exec would be reported.
        try? probes.allowRuntime(pid: getppid())
        let registration: ContainerProbe.Registration
        if probes.scopes.lookup(key: scope.cgroupID, as: mg_scope.self) != nil {
            throw MemguardError("cgroup \(scope.cgroupPath) (id \(scope.cgroupID)) is already registered by another container")
        }
        do {
            // The allowlist goes in before the scope, so no allowed call is ever reported.
            try ContainerProbe.allow(allowed, cgroupID: scope.cgroupID, probes: probes)
            registration = try ContainerProbe.register(scope, settings: settings, probes: probes)
        } catch {
            _ = try? ContainerProbe.unregister(cgroupID: scope.cgroupID, probes: probes)
            _ = try? ProbeSet.unloadIfUnused(paths: paths)
            throw error
        }
        lock.unlock()
        defer { close(registration.ringFD) }

        let monitorOptions = Monitor.Options(container: container, paths: paths, scope: scope, settings: settings,
                                             initPID: pid, exitGraceMilliseconds: options.exitGraceMilliseconds)
        do {
            try MonitorLauncher.start(Monitor(options: monitorOptions, log: log), ringFD: registration.ringFD, initPidfd: pidfd)
        } catch {
            _ = try? ContainerTeardown.detach(cgroupID: scope.cgroupID, paths: paths)
            ContainerTeardown.removeFiles(paths: paths, container: container)
            throw error
        }
        return "monitoring"
    }
}
