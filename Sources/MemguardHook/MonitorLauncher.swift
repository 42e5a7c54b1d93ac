import CShims
import Glibc
import MemguardCore
import MemguardMonitor

/// Starts a container's monitor as a detached process (new session, stdio on /dev/null:
/// runc waits for EOF on a hook's stdout/stderr, so the monitor must not hold them) and waits
/// until it reports that it is reading events.
enum MonitorLauncher {
    /// Returns the monitor's pid once it is ready.
    @discardableResult
    static func start(_ options: Monitor.Options, ringFD: Int32, initPidfd: Int32, timeoutMilliseconds: Int32) throws -> pid_t {
        var pipeFDs: [Int32] = [-1, -1]
        try sys("creating the monitor's ready pipe") { mg_pipe_cloexec(&pipeFDs) }
        defer { close(pipeFDs[0]) }
        // Source fds are moved above the targets first: dup2 onto itself would keep O_CLOEXEC.
        let sources = try [ringFD, initPidfd, pipeFDs[1]].map { fd in
            try sys("duplicating fd \(fd)") { fcntl(fd, F_DUPFD_CLOEXEC, 10) }
        }
        close(pipeFDs[1])
        defer { sources.forEach { close($0) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in 0...2 {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        for (index, fd) in sources.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, fd, Monitor.InheritedFD.ring + Int32(index))
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, mg_posix_spawn_setsid() | Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let exe = try selfExecutablePath()
        let args = [exe, "monitor",
                    "--id", options.container.raw,
                    "--cgroup-id", "\(options.scope.cgroupID)",
                    "--cgroup-path", options.scope.cgroupPath,
                    "--cgroup-dir", options.scope.cgroupDir,
                    "--pidns", "\(options.scope.pidnsInode)",
                    "--pidns-level", "\(options.scope.pidnsLevel)",
                    "--mode", options.settings.mode.rawValue,
                    "--seccomp", options.settings.seccompProfiles.joined(separator: ","),
                    "--record", options.settings.recordProfile ?? "",
                    "--action", options.settings.action.rawValue,
                    "--baseline", options.settings.baseline ?? "",
                    "--sample-ms", "\(options.settings.thresholds.sampleIntervalMilliseconds)",
                    "--ws-growth", "\(options.settings.thresholds.workingSetGrowthBytesPerSecond)",
                    "--ws-fraction-permille", "\(Int(options.settings.thresholds.workingSetLimitFraction * 1000))",
                    "--init-pid", "\(options.initPID)",
                    "--exit-grace-ms", "\(options.exitGraceMilliseconds)"]
        let env = options.paths.environment + ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        var pid: pid_t = 0
        let rc = withCStrings(args) { argv in
            withCStrings(env) { envp in posix_spawn(&pid, exe, &actions, &attributes, argv, envp) }
        }
        guard rc == 0 else { throw MemguardError("starting the monitor \(exe)", errno: Errno(rc)) }
        for fd in sources { close(fd) }

        switch waitReady(pipeFDs[0], timeoutMilliseconds: timeoutMilliseconds) {
        case .ready:
            return pid
        case .failed(let message):
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            throw MemguardError(message)
        case .timedOut:
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            throw MemguardError("the monitor did not report ready within \(timeoutMilliseconds) ms")
        }
    }

    private enum Readiness { case ready, failed(String), timedOut }

    private static func waitReady(_ fd: Int32, timeoutMilliseconds: Int32) -> Readiness {
        var text: [UInt8] = []
        let start = Clock.nanoseconds(CLOCK_MONOTONIC)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let left = Int32(timeoutMilliseconds) - Int32(Clock.millisecondsSince(start))
            if left <= 0 { return .timedOut }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let rc = poll(&p, 1, left)
            if rc < 0 && errno == EINTR { continue }
            if rc <= 0 { return .timedOut }
            let n = read(fd, &buffer, buffer.count)
            if n > 0 {
                text += buffer[0..<n]
                if text.contains(UInt8(ascii: "\n")) { break }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            break // EOF: the monitor exited without a word
        }
        let line = String(decoding: text, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        if line == "ok" { return .ready }
        if line.hasPrefix("error ") { return .failed(String(line.dropFirst(6))) }
        return .failed("the monitor exited before it was ready")
    }
}
