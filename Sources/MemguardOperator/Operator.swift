import MemguardCore

enum Operator {
    static func printError(_ message: String) {
        _ = try? FileSystem.writeAll(fd: 2, Array((message + "\n").utf8), what: "stderr")
    }

    static func duration(_ seconds: UInt64) -> String {
        seconds >= 3600 ? "\(seconds / 3600)h\((seconds % 3600) / 60)m" : seconds >= 60 ? "\(seconds / 60)m\(seconds % 60)s" : "\(seconds)s"
    }
}
