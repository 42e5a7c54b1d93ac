import CShims
import Glibc
import MemguardCore
import MemguardMonitor

/// Starts a container's monitor as a detached child (new session, stdio on /dev/null: runc
/// waits for EOF on a hook's stdout/stderr, so the monitor must not hold them; its command
/// line reads `memguard monitor`), writes its state file and start line, and returns without
/// waiting for it: the kernel records into the container's ring from the registration on,
/// and waiting for the monitor to be reading cost ~1 ms of every container start.
enum MonitorLauncher {
    /// Returns the monitor's pid. On failure the monitor is gone (the caller unregisters).
    @discardableResult
    static func start(_ monitor: Monitor, ringFD: Int32, initPidfd: Int32) throws -> pid_t {
        var pair: [Int32] = [-1, -1]
        try sys("creating the monitor's go-ahead socket") { mg_socketpair_cloexec(&pair) }
        // Closed without the go-ahead byte, it tells the monitor the hook gave up.
        defer { close(pair[1]) }
        // Source fds are moved above the targets first: dup2 onto itself would keep O_CLOEXEC.
        let sources = try [ringFD, initPidfd, pair[0], monitor.log.fd].map { fd in
            try sys("duplicating fd \(fd)") { fcntl(fd, F_DUPFD_CLOEXEC, 10) }
        }
        close(pair[0])

        // The hook becomes the monitor by forking, without exec: the monitor is this same
        // program, and skipping the exec takes ~1.5 ms off every container start.
        let pid = mg_fork_detached(sources[0], sources[1], sources[2], sources[3])
        if pid == 0 {
            let title = "memguard\u{0}monitor\u{0}"
            mg_set_cmdline(title, title.utf8.count)
            exit(monitor.run())
        }
        let forkErrno = Errno.current
        for fd in sources { close(fd) }
        if pid < 0 { throw MemguardError("forking the monitor", errno: forkErrno) }
        do {
            try monitor.writeState(monitorPID: pid)
            try monitor.log.write(monitor.startRecord(monitorPID: pid))
            try sys("handing over to the monitor (pid \(pid))") { mg_send_byte(pair[1], 0x67) }
        } catch {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            throw error
        }
        return pid
    }
}
