import CLibBPF
import CMemguardABI
import CShims
import Glibc
import MemguardCore
import MemguardProbes

/// One container's monitor: a detached process started by the hook that reads the
/// container's ring buffer into its log until poststop (SIGTERM) or until it notices that the
/// container has ended on its own, and then tears the container's part down.
public final class Monitor {
    /// File descriptors the hook hands over (see MonitorLauncher).
    public enum InheritedFD {
        public static let ring: Int32 = 3
        public static let initPidfd: Int32 = 4
        /// The hook's go-ahead: one byte once the state file and the start line are written.
        /// EOF without it: the hook failed or was killed after the fork.
        public static let go: Int32 = 5
        /// The container's log, opened by the hook (the start line is the hook's).
        public static let log: Int32 = 6
    }

    public struct Options {
        public var container: ContainerID
        public var paths: MemguardPaths
        public var scope: ContainerScope
        public var settings: MonitorSettings
        public var initPID: Int32
        /// How long to wait for poststop after the container's processes are gone.
        public var exitGraceMilliseconds: Int

        public init(container: ContainerID, paths: MemguardPaths, scope: ContainerScope, settings: MonitorSettings, initPID: Int32, exitGraceMilliseconds: Int) {
            self.container = container
            self.paths = paths
            self.scope = scope
            self.settings = settings
            self.initPID = initPID
            self.exitGraceMilliseconds = exitGraceMilliseconds
        }
    }

    let options: Options
    public let log: EventLog
    var records = EventRecord()
    var delivered: UInt64 = 0
    var undecodable: UInt64 = 0
    /// Events of the ring's previous container, dropped.
    var previousOwner: UInt64 = 0
    var metrics: Metrics
    var workingSet: WorkingSet
    var freezer: ContainerFreezer
    var learner = BaselineLearner()
    /// Offenders stopped by the kernel (freeze action) since the last loop turn.
    var stoppedOffenders: [UInt32] = []
    /// The shared scope map, for the container's kernel counters (opened after ready).
    var scopes: BPFMap?
    var nextSample: UInt64 = 0

    /// Built by the hook before it forks; the forked child runs it.
    public init(options: Options, log: EventLog) {
        self.options = options
        self.log = log
        metrics = Metrics(container: options.container, startTime: Double(Clock.nanoseconds(CLOCK_REALTIME)) / 1e9)
        workingSet = WorkingSet(initPID: options.initPID, unifiedDir: options.scope.cgroupDir)
        freezer = ContainerFreezer(cgroupDir: options.scope.cgroupDir)
    }

    /// Runs the monitor (in the child the hook forked) to the end; returns the exit code.
    /// Nobody waits for it to start reading: the kernel fills the container's ring from the
    /// registration on, and a monitor that cannot set up applies the container's failure policy.
    public func run() -> Int32 {
        log.adopt(descriptor: InheritedFD.log)
        // Set up while the hook writes the state file and the start line; no log line before
        // the go-ahead, so the start line comes first.
        let stopSignals = mg_stop_signalfd()
        let signalfdErrno = Errno.current
        let ring = ring_buffer__new(InheritedFD.ring, { ctx, data, size in
            guard let ctx, let data else { return 0 }
            let monitor = Unmanaged<Monitor>.fromOpaque(ctx).takeUnretainedValue()
            monitor.handle(data, size)
            monitor.batchLeft -= 1
            return monitor.batchLeft > 0 ? 0 : Monitor.batchFull
        }, Unmanaged.passUnretained(self).toOpaque(), nil)
        let ringErrno = Errno.current
        guard Self.awaitGoAhead() else { return finishEarly(ring, reason: "hook-ended-before-start") }
        guard stopSignals >= 0, let ring else {
            let cause = stopSignals < 0 ? MemguardError("creating a signalfd", errno: signalfdErrno)
                                        : MemguardError("opening the ring buffer", errno: ringErrno)
            applyFailurePolicy(cause)
            return finishEarly(ring, reason: "monitor-setup-failed")
        }
        do {
            try MonitorLimits.apply()
        } catch {
            try? log.write(warningRecord("the monitor runs without its memory cap: \(error)"))
        }
        afterReady()

        let reason = loop(ring: ring, signals: stopSignals)
        var outcome: ContainerTeardown.Outcome?
        do {
            outcome = try ContainerTeardown.detach(cgroupID: options.scope.cgroupID, paths: options.paths) { _, _ in drain(ring) }
        } catch {
            drain(ring)
            try? log.write(failureRecord("tearing down the kernel side for container \(options.container): \(error)"))
        }
        ring_buffer__free(ring)
        close(InheritedFD.ring)
        try? log.flush()
        if let record = options.settings.recordProfile {
            try? log.write(ContainerTeardown.writeRecording(outcome, name: record, paths: options.paths, container: options.container))
        }
        if options.settings.mode == .learn, let name = options.settings.baseline {
            try? log.write(learner.write(name: name, paths: options.paths, container: options.container))
        }
        try? log.write(ContainerTeardown.stopRecord(container: options.container, reason: reason, outcome: outcome,
                                                    delivered: delivered, undecodable: undecodable, previousOwner: previousOwner))
        ContainerTeardown.removeFiles(paths: options.paths, container: options.container)
        return 0
    }

    /// Blocks until the hook's go-ahead byte (true) or EOF (false).
    static func awaitGoAhead() -> Bool {
        var byte: UInt8 = 0
        while true {
            let n = read(InheritedFD.go, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            close(InheritedFD.go)
            return n == 1
        }
    }

    /// The monitor cannot read its container's events, and the hook has already let the start
    /// go on (it no longer waits for the monitor): the container's failure policy decides, as the
    /// hook's would have. closed: every process in the container's cgroup is killed; open: it
    /// runs unmonitored. Either way the log says so.
    private func applyFailurePolicy(_ cause: MemguardError) {
        let message = "monitor for container \(options.container): \(cause)"
        guard options.settings.failure == .closed else {
            var line = failureRecord(message)
            line.add("failure", "open")
            line.add("warning", "the container runs UNMONITORED")
            try? log.write(line)
            return
        }
        var line = failureRecord(message)
        line.add("failure", "closed")
        do {
            try ContainerKiller.kill(cgroupDir: options.scope.cgroupDir, initPidfd: InheritedFD.initPidfd)
            line.add("action", "container-killed")
        } catch {
            line.add("action", "none")
            line.add("kill_error", "\(error)")
        }
        try? log.write(line)
    }

    /// The hook ended after the fork without confirming (the runtime fails the start, and no
    /// state file names this monitor), or the monitor could not set up: it undoes the
    /// registration and removes the container's files itself.
    private func finishEarly(_ ring: OpaquePointer?, reason: String) -> Int32 {
        var outcome: ContainerTeardown.Outcome?
        do {
            outcome = try ContainerTeardown.detach(cgroupID: options.scope.cgroupID, paths: options.paths) { _, _ in
                if let ring { self.drain(ring) }
            }
        } catch {
            try? log.write(failureRecord("tearing down the kernel side for container \(options.container): \(error)"))
        }
        if let ring { ring_buffer__free(ring) }
        try? log.write(ContainerTeardown.stopRecord(container: options.container, reason: reason, outcome: outcome,
                                                    delivered: delivered, undecodable: undecodable, previousOwner: previousOwner))
        ContainerTeardown.removeFiles(paths: options.paths, container: options.container)
        return 1
    }

    /// Inserts a spare ring buffer for the next container if none is left, and takes the first
    /// sample. Failures are logged; monitoring goes on.
    private func afterReady() {
        do {
            // The lock only while opening the set (not mid-unload); the insert waits for RCU
            // and must not hold up other containers' hooks.
            let lock = try FileLock(path: options.paths.lockFile)
            let probes = try ProbeSet.openPinned(paths: options.paths)
            lock.unlock()
            if let probes { try ContainerProbe.refillSpares(probes: probes) }
        } catch {
            try? log.write(warningRecord("could not add a spare ring buffer for the next container: \(error)"))
        }
        scopes = try? BPFMap(pinned: "\(options.paths.pinDir)/mg_scopes")
        sample()
    }

    /// Every sample interval: the kernel's counters, the working set (and its alerts), and the
    /// metrics file.
    private func sample() {
        nextSample = Clock.nanoseconds(CLOCK_MONOTONIC) + options.settings.thresholds.sampleIntervalMilliseconds * 1_000_000
        metrics.counters = scopes?.lookup(key: options.scope.cgroupID, as: mg_scope.self) ?? metrics.counters
        metrics.undecodable = undecodable
        if let ws = workingSet.sample() {
            metrics.workingSet = ws.bytes
            for line in workingSet.alerts(for: ws, thresholds: options.settings.thresholds, container: options.container) {
                try? log.write(line)
            }
        }
        do {
            try metrics.write(paths: options.paths)
        } catch {
            try? log.write(warningRecord("could not write metrics: \(error)"))
        }
    }

    /// The freeze action, after the kernel stopped an offender: once per container.
    private func freezeIfAsked() {
        guard let offender = stoppedOffenders.first else { return }
        stoppedOffenders.removeAll()
        guard !freezer.frozen else { return }
        try? log.write(freezer.freeze(offender: offender, initPID: options.initPID, container: options.container))
    }

    /// Waits for events, a stop signal, or the end of the container. Returns why it stopped.
    private func loop(ring: OpaquePointer, signals: Int32) -> String {
        var fds = [
            pollfd(fd: ring_buffer__epoll_fd(ring), events: Int16(POLLIN), revents: 0),
            pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
            pollfd(fd: InheritedFD.initPidfd, events: Int16(POLLIN), revents: 0),
        ]
        var graceDeadline: UInt64?
        while true {
            let rc = poll(&fds, nfds_t(fds.count), 100)
            if rc < 0 && errno != EINTR { return "poll failed: \(Errno.current)" }
            if fds[0].revents != 0 { drain(ring, batches: 1) }
            freezeIfAsked()
            if Clock.nanoseconds(CLOCK_MONOTONIC) >= nextSample { sample() }
            if fds[1].revents != 0 {
                let signal = mg_read_signal(signals)
                return signal == SIGTERM ? "poststop" : "signal \(signal)"
            }
            if fds[2].revents != 0 {
                // The init has exited: stop watching the pidfd and wait for the cgroup to
                // empty, then give poststop a grace period to arrive before cleaning up.
                fds[2].fd = -1
            }
            if fds[2].fd == -1 && graceDeadline == nil && containerIsEmpty() {
                graceDeadline = Clock.nanoseconds(CLOCK_MONOTONIC) + UInt64(options.exitGraceMilliseconds) * 1_000_000
            }
            if let deadline = graceDeadline, Clock.nanoseconds(CLOCK_MONOTONIC) >= deadline {
                return "container-exited-without-poststop"
            }
        }
    }

    private func containerIsEmpty() -> Bool {
        guard let events = try? FileSystem.readText(options.scope.cgroupDir + "/cgroup.events", limit: 4096) else {
            return true // the cgroup directory is gone
        }
        return events.split(separator: "\n").contains("populated 0")
    }

    /// Reads the ring into the log until it is empty, or for at most `batches` batches: libbpf's
    /// consume does not return while the kernel keeps adding events, and the loop's own work
    /// (the freeze action, samples, signals) must not wait for the end of a burst.
    private func drain(_ ring: OpaquePointer, batches: Int = .max) {
        for _ in 0..<batches {
            batchLeft = Self.batchEvents
            let rc = ring_buffer__consume(ring)
            if rc != Self.batchFull { break } // the ring is empty
        }
        try? log.flush()
    }

    static let batchEvents = 4096
    /// What the ring callback returns to end a batch (libbpf stops and returns it).
    static let batchFull: Int32 = -EAGAIN
    var batchLeft = 0

    fileprivate func handle(_ data: UnsafeMutableRawPointer, _ size: Int) {
        guard size >= MemoryLayout<mg_event>.size else {
            undecodable += 1
            return
        }
        let event = data.loadUnaligned(as: mg_event.self)
        // Rings are pooled: what a previous owner's last in-flight calls wrote is not ours.
        guard event.cgroup_id == options.scope.cgroupID else {
            previousOwner += 1
            return
        }
        let exe = records.exePath(event)
        log.queue(records.line(for: event, container: options.container, exe: exe))
        delivered += 1
        metrics.count(kind: event.kind, action: event.action)
        if event.action == EventAction.stopped.rawValue { stoppedOffenders.append(event.pid) }
        if options.settings.mode == .learn, let kind = EventKind(rawValue: event.kind) { learner.observe(kind, exePath: exe) }
    }

    /// The log's first line, written by the hook once the monitor is forked.
    public func startRecord(monitorPID: pid_t) -> JSONLine {
        var line = EventLog.record(options.container, event: "monitor-start")
        line.add("mode", options.settings.mode.rawValue)
        if options.settings.mode == .enforce { line.add("action", options.settings.action.rawValue) }
        if !options.settings.allowWX.isEmpty { line.add("allow_wx", strings: options.settings.allowWX) }
        if let baseline = options.settings.baseline { line.add("baseline", baseline) }
        line.add("working_set_source", workingSet.source)
        line.add("metrics", options.paths.metricsFile(for: options.container))
        if !options.settings.seccompProfiles.isEmpty { line.add("seccomp", options.settings.seccompProfiles.joined(separator: ",")) }
        if let record = options.settings.recordProfile { line.add("seccomp_record", record) }
        line.add("cgroup_path", options.scope.cgroupPath)
        line.add("cgroup_id", options.scope.cgroupID)
        line.add("pidns", options.scope.pidnsInode)
        line.add("pidns_level", options.scope.pidnsLevel)
        line.add("init_pid", options.initPID)
        line.add("monitor_pid", monitorPID)
        line.add("monitor_data_limit", UInt64(MonitorLimits.cap()))
        line.add("ring_bytes", ContainerProbe.ringSize)
        return line
    }

    private func warningRecord(_ message: String) -> JSONLine {
        var line = EventLog.record(options.container, event: "monitor-warning")
        line.add("severity", "warning")
        line.add("warning", message)
        return line
    }

    private func failureRecord(_ message: String) -> JSONLine {
        var line = EventLog.record(options.container, event: "monitor-error")
        line.add("severity", "error")
        line.add("error", message)
        return line
    }

    /// The state file that lets poststop, `ps` and the next start find this monitor; written
    /// by the hook once the monitor is forked.
    public func writeState(monitorPID: pid_t) throws {
        try FileSystem.makeDirectories(options.paths.containersDir)
        guard let started = processStartTime(monitorPID) else {
            throw MemguardError("the monitor (pid \(monitorPID)) exited as it started")
        }
        let record = StateRecord(containerID: options.container.raw, cgroupID: options.scope.cgroupID,
                                 cgroupPath: options.scope.cgroupPath, pidnsInode: options.scope.pidnsInode,
                                 initPID: options.initPID, monitorPID: monitorPID,
                                 monitorStart: started, mode: options.settings.mode.rawValue,
                                 recordProfile: options.settings.recordProfile ?? "", action: options.settings.action.rawValue)
        try FileSystem.writeAtomically(options.paths.stateFile(for: options.container), record.text)
    }
}
