import CShims
import Glibc
import MemguardCore

/// Fail-closed when monitoring breaks after the start went on: kill every process of the
/// container through cgroup v2's `cgroup.kill` (nested cgroups and processes forked meanwhile
/// included), or, on a kernel without it, at least the container's init through its pidfd.
enum ContainerKiller {
    static func kill(cgroupDir: String, initPidfd: Int32) throws {
        let path = "\(cgroupDir)/cgroup.kill"
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            try FileSystem.writeAll(fd: fd, Array("1".utf8), what: path)
            return
        }
        let openErrno = Errno.current
        if mg_pidfd_send_signal(initPidfd, SIGKILL) != 0 && errno != ESRCH {
            throw MemguardError("killing the container: opening \(path): \(openErrno); and SIGKILL to its init", errno: .current)
        }
    }
}
