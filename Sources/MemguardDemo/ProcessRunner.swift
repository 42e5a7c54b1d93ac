import Glibc
import MemguardCore

/// Runs a command to completion with stdout and stderr in a file (posix_spawn, no shell).
enum ProcessRunner {
    struct Running {
        let pid: pid_t
        let output: String
    }

    static func start(_ args: [String], output: String, environment: [String] = [], stdin: String = "/dev/null") throws -> Running {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o640)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let env = environment + ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        var pid: pid_t = 0
        let rc = withCStrings(args) { argv in withCStrings(env) { envp in posix_spawnp(&pid, args[0], &actions, nil, argv, envp) } }
        guard rc == 0 else { throw MemguardError("starting \(args[0])", errno: Errno(rc)) }
        return Running(pid: pid, output: output)
    }

    /// Waits for the process; returns its exit code, or 128 + signal.
    static func wait(_ running: Running) -> Int32 {
        var status: Int32 = 0
        while waitpid(running.pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    static func run(_ args: [String], output: String) throws -> Int32 {
        wait(try start(args, output: output))
    }

    /// Reaps any exited children (monitors reparented to us as subreaper).
    static func reapOrphans() {
        var status: Int32 = 0
        while waitpid(-1, &status, WNOHANG) > 0 {}
    }

    /// The first executable named `name` on the usual paths.
    static func find(_ name: String, in dirs: [String] = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) -> String? {
        dirs.map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }
}
