/// The parts of a runc command line memguard-runc needs: the command, and for create/run the
/// bundle and container id. Everything is passed on to the real runtime unchanged.
struct RuncInvocation: Equatable {
    var command: String?
    var bundle: String?
    var containerID: String?
    /// --log and --log-format, so errors can be reported where the shim reads them.
    var logFile: String?
    var logFormat: String?

    /// runc's global flags that take a value (urfave/cli accepts -flag and --flag, =value too).
    static let globalValueFlags: Set<String> = ["log", "log-format", "root", "criu", "rootless"]
    /// create/run flags that take a value.
    static let commandValueFlags: Set<String> = ["bundle", "b", "console-socket", "pid-file", "preserve-fds"]

    init(arguments: [String]) {
        var i = 0
        // Global flags, up to the command.
        while i < arguments.count, arguments[i].hasPrefix("-") {
            let (name, inline) = Self.split(arguments[i])
            var value = inline
            if Self.globalValueFlags.contains(name), inline == nil, i + 1 < arguments.count {
                value = arguments[i + 1]
                i += 1
            }
            if name == "log" { logFile = value }
            if name == "log-format" { logFormat = value }
            i += 1
        }
        guard i < arguments.count else { return }
        command = arguments[i]
        i += 1
        guard command == "create" || command == "run" else { return }
        while i < arguments.count {
            let arg = arguments[i]
            if arg == "--" {
                if i + 1 < arguments.count, containerID == nil { containerID = arguments[i + 1] }
                break
            }
            if arg.hasPrefix("-") {
                let (name, inline) = Self.split(arg)
                var value = inline
                if Self.commandValueFlags.contains(name), inline == nil, i + 1 < arguments.count {
                    value = arguments[i + 1]
                    i += 1
                }
                if name == "bundle" || name == "b" { bundle = value }
            } else if containerID == nil {
                containerID = arg
            }
            i += 1
        }
    }

    /// "--name=value" -> ("name", "value"); "-name" -> ("name", nil).
    static func split(_ flag: String) -> (String, String?) {
        let bare = flag.drop { $0 == "-" }
        if let eq = bare.firstIndex(of: "=") {
            return (String(bare[..<eq]), String(bare[bare.index(after: eq)...]))
        }
        return (String(bare), nil)
    }
}
