import MemguardCore

enum Operator {
    static func duration(_ seconds: UInt64) -> String {
        seconds >= 3600 ? "\(seconds / 3600)h\((seconds % 3600) / 60)m" : seconds >= 60 ? "\(seconds / 60)m\(seconds % 60)s" : "\(seconds)s"
    }
}
