import MemguardCore
import MemguardMonitor

/// The arguments MonitorLauncher passes to `memguard monitor`.
enum MonitorArguments {
    static func parse(_ args: [String], paths: MemguardPaths) throws -> Monitor.Options {
        var values: [String: String] = [:]
        var i = 0
        while i < args.count {
            guard args[i].hasPrefix("--"), i + 1 < args.count else { throw MemguardError("unexpected argument '\(args[i])'") }
            values[String(args[i].dropFirst(2))] = args[i + 1]
            i += 2
        }
        func value(_ key: String) throws -> String {
            guard let v = values[key] else { throw MemguardError("missing --\(key)") }
            return v
        }
        func number<T: FixedWidthInteger>(_ key: String) throws -> T {
            guard let v = T(try value(key)) else { throw MemguardError("--\(key) is not a number") }
            return v
        }
        guard let mode = MonitorSettings.Mode(rawValue: try value("mode")) else { throw MemguardError("bad --mode") }
        var settings = MonitorSettings(mode: mode)
        settings.seccompProfiles = try value("seccomp").split(separator: ",").map(String.init)
        let record = try value("record")
        settings.recordProfile = record.isEmpty ? nil : record
        guard let action = MonitorSettings.Action(rawValue: try value("action")) else { throw MemguardError("bad --action") }
        settings.action = action
        let baseline = try value("baseline")
        settings.baseline = baseline.isEmpty ? nil : baseline
        settings.thresholds.sampleIntervalMilliseconds = try number("sample-ms")
        settings.thresholds.workingSetGrowthBytesPerSecond = try number("ws-growth")
        settings.thresholds.workingSetLimitFraction = Double(try number("ws-fraction-permille") as Int) / 1000
        let scope = ContainerScope(cgroupPath: try value("cgroup-path"), cgroupDir: try value("cgroup-dir"),
                                   cgroupID: try number("cgroup-id"), pidnsInode: try number("pidns"),
                                   pidnsLevel: try number("pidns-level"))
        return Monitor.Options(container: try ContainerID(value("id")), paths: paths, scope: scope, settings: settings,
                               initPID: try number("init-pid"), exitGraceMilliseconds: try number("exit-grace-ms"))
    }
}
