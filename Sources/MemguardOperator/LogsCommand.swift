import Glibc
import MemguardCore

/// `memguard logs <container> [--follow]`: a container's log; with --follow, new lines as they
/// come until the monitor's stop line.
public enum LogsCommand {
    public static func run(arguments: [String], paths: MemguardPaths) -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print("usage: memguard logs CONTAINER [--follow]\n\nPrints the container's log (JSON lines) from \(paths.logDir); --follow waits for new lines until the monitor stops.")
            return 0
        }
        let follow = arguments.contains("--follow") || arguments.contains("-f")
        let ids = arguments.filter { $0 != "--follow" && $0 != "-f" }
        if let unknown = ids.first(where: { $0.hasPrefix("-") }) {
            printError("memguard logs: unknown option \(unknown) (see memguard logs --help)")
            return 2
        }
        guard ids.count == 1 else {
            printError("memguard logs: give exactly one container id (see memguard logs --help)")
            return 2
        }
        guard let id = try? ContainerID(ids[0]) else {
            printError("memguard logs: '\(ids[0])' is not a container id")
            return 2
        }
        let path = paths.logFile(for: id)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            printError("memguard logs: no log for container \(id) (\(path): \(Errno.current))")
            return 1
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var tail: [UInt8] = []
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 {
                _ = try? FileSystem.writeAll(fd: 1, Array(buffer[0..<n]), what: "stdout")
                tail = Array((tail + buffer[0..<n]).suffix(4096))
                continue
            }
            if !follow { return 0 }
            // Done once the monitor wrote its stop line and nothing monitors the container.
            let text = String(decoding: tail, as: UTF8.self)
            if text.contains("\"event\":\"monitor-stop\"") && !FileSystem.exists(paths.stateFile(for: id)) { return 0 }
            usleep(200_000)
        }
    }
}
