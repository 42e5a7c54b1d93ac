import Glibc
import MemguardCore
import MemguardDemo
import MemguardHook
import MemguardMonitor

/// memguard: per-container memory-protection monitoring.
///   memguard hook <stage>     OCI hook (state JSON on stdin)
///   memguard demo             the main job on real runc containers
///   memguard monitor ...      internal: started by the hook
let usage = """
usage: memguard <command> [options]

commands:
  hook <stage>    OCI hook: reads the runtime state JSON on stdin. Stages: prestart,
                  createRuntime (start monitoring), poststop (stop it); others are no-ops.
  demo            run real runc containers with memguard and show what it catches
  monitor         internal: a container's monitor, started by the hook
  help            this text

path options (also environment variables), for every command:
  --config-dir DIR  MEMGUARD_CONFIG_DIR  (default /etc/memguard)
  --log-dir DIR     MEMGUARD_LOG_DIR     (default /var/log/memguard)
  --state-dir DIR   MEMGUARD_STATE_DIR   (default /run/memguard)
  --data-dir DIR    MEMGUARD_DATA_DIR    (default /var/lib/memguard)
  --pin-dir DIR     MEMGUARD_PIN_DIR     (default /sys/fs/bpf/memguard)
  --btf FILE        MEMGUARD_BTF         (default /sys/kernel/btf/vmlinux)

containers opt in with the annotation io.memguard.monitor=true;
io.memguard.mode=audit|enforce (default audit).
"""

func fail(_ message: String, code: Int32 = 2) -> Never {
    _ = try? FileSystem.writeAll(fd: 2, Array("memguard: \(message)\n".utf8), what: "stderr")
    exit(code)
}

var args = Array(CommandLine.arguments.dropFirst())
var paths = MemguardPaths.fromEnvironment()
do { try paths.applyFlags(&args) } catch { fail("\(error)") }
guard let command = args.first else {
    print(usage)
    exit(2)
}
args.removeFirst()

switch command {
case "hook":
    guard args.count == 1, let stage = Hook.Stage(argument: args[0]) else {
        fail("hook needs one stage: \(Hook.Stage.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    var options = Hook.Options()
    options.paths = paths
    exit(Hook.run(stage: stage, stdin: 0, options: options))
case "monitor":
    do {
        exit(Monitor.run(try MonitorArguments.parse(args, paths: paths)))
    } catch {
        fail("monitor: \(error)")
    }
case "demo":
    exit(Demo.run(arguments: args, paths: paths))
case "help", "--help", "-h":
    print(usage)
default:
    fail("unknown command '\(command)'\n\(usage)")
}
