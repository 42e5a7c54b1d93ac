import CShims
import Glibc
import MemguardCore
import MemguardMonitor

/// Starts a container's monitor as a detached process (new session, stdio on /dev/null:
/// runc waits for EOF on a hook's stdout/stderr, so the monitor must not hold them; its command
/// line reads `memguard monitor`) and waits until it reports that it is reading events.
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

        // The hook becomes the monitor by forking, without exec: the monitor is this same
        // program, and skipping the exec takes ~1.5 ms off every container start.
        let pid = mg_fork_detached(sources[0], sources[1], sources[2])
        if pid < 0 { throw MemguardError("forking the monitor", errno: .current) }
        if pid == 0 {
            let title = "memguard\u{0}monitor\u{0}"
            mg_set_cmdline(title, title.utf8.count)
            exit(Monitor.run(options))
        }
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
