import Glibc
import MemguardCore
import MemguardDemo
import MemguardHook
import MemguardMonitor
import MemguardOperator
import MemguardSeccomp
import MemguardWrapper

// As memguard-runc (or `memguard runc`), calls that cannot involve memguard exec the real
// runtime before any other start-up work (PassThrough); the rest fall through to the wrapper.
if let name = CommandLine.unsafeArgv[0] {
    let base = strrchr(name, 0x2F).map { $0 + 1 } ?? name
    if strcmp(base, "memguard-runc") == 0 {
        PassThrough.execIfUninvolved(argc: CommandLine.argc, argv: CommandLine.unsafeArgv)
    } else if CommandLine.argc > 1, let first = CommandLine.unsafeArgv[1], strcmp(first, "runc") == 0 {
        PassThrough.execIfUninvolved(argc: CommandLine.argc - 1, argv: CommandLine.unsafeArgv + 1)
    }
}

/// memguard: per-container memory-protection monitoring.
///   memguard hook <stage>     OCI hook (state JSON on stdin)
///   memguard demo             the main job on real runc containers
let usage = """
usage: memguard <command> [options]

commands:
  hook <stage>    OCI hook: reads the runtime state JSON on stdin. Stages: prestart,
                  createRuntime (start monitoring), poststop (stop it); others are no-ops.
  demo            run real runc containers with memguard and show what it catches
  ps [--json]     the monitored containers
  logs ID [--follow]
                  a container's log
  doctor [--json] check every prerequisite, with fixes
  seccomp check FILE
                  check a seccomp profile (OCI or Docker JSON) with libseccomp and
                  print what it would install
  runc ARGS...    the runtime wrapper (same as running it as memguard-runc)
  help            this text

memguard-runc ARGS...: a runc-compatible runtime for containerd (BinaryName) and others. For
  an opted-in bundle it adds memguard's hooks and seccomp profile to config.json on create/run/restore,
  then execs the real runtime (runc; "runtime" in memguard.json or MEMGUARD_RUNTIME to change).

path options (also environment variables), for every command:
  --config-dir DIR  MEMGUARD_CONFIG_DIR  (default /etc/memguard)
  --log-dir DIR     MEMGUARD_LOG_DIR     (default /var/log/memguard)
  --state-dir DIR   MEMGUARD_STATE_DIR   (default /run/memguard)
  --data-dir DIR    MEMGUARD_DATA_DIR    (default /var/lib/memguard)
  --pin-dir DIR     MEMGUARD_PIN_DIR     (default /sys/fs/bpf/memguard)
  --metrics-dir DIR MEMGUARD_METRICS_DIR (default /var/lib/memguard/metrics)
  --btf FILE        MEMGUARD_BTF         (default /sys/kernel/btf/vmlinux)

containers opt in with the annotation io.memguard.monitor=true; further keys:
io.memguard.mode=audit|enforce|learn, io.memguard.action=kill|freeze,
io.memguard.failure=closed|open, io.memguard.allow-wx=PATH[,PATH], io.memguard.baseline=NAME,
io.memguard.seccomp=NAME[,wx-deny], io.memguard.seccomp-record=NAME.
the host policy is <config-dir>/memguard.json (see README).
"""

func fail(_ message: String, code: Int32 = 2) -> Never {
    printError("memguard: \(message)")
    exit(code)
}

// As memguard-runc every argument belongs to runc: nothing is parsed or removed here.
let invokedAs = CommandLine.arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? ""
if invokedAs == "memguard-runc" {
    exit(RuntimeWrapper.run(arguments: Array(CommandLine.arguments.dropFirst()), paths: MemguardPaths.fromEnvironment()))
}

var args = Array(CommandLine.arguments.dropFirst())
var paths = MemguardPaths.fromEnvironment()
if args.first == "runc" {
    exit(RuntimeWrapper.run(arguments: Array(args.dropFirst()), paths: paths))
}
do { try paths.applyFlags(&args) } catch { fail("\(error)") }
// The host policy's directories; an invalid policy is reported by the commands that use it
// (the hook refuses to start containers, doctor names the key), not here.
if let host = try? HostConfig.load(paths: paths) { paths.adopt(host) }
guard let command = args.first else {
    print(usage)
    exit(2)
}
args.removeFirst()

switch command {
case "hook":
    if args.first == "--help" || args.first == "-h" {
        print("usage: memguard hook STAGE < state.json\n\nThe OCI hook: createRuntime (or prestart) starts monitoring an opted-in container, poststop ends it.")
        exit(0)
    }
    guard args.count == 1, let stage = Hook.Stage(argument: args[0]) else {
        fail("hook needs one stage: \(Hook.Stage.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    var options = Hook.Options()
    options.paths = paths
    exit(Hook.run(stage: stage, stdin: 0, options: options))
case "seccomp":
    if args.contains("--help") || args.contains("-h") {
        print("usage: memguard seccomp check FILE\n\nChecks a seccomp profile (OCI or Docker JSON) with libseccomp and prints a summary of what it would install (the default action, the architectures, the number of rules: one per syscall name).")
        exit(0)
    }
    guard args.count == 2, args[0] == "check" else { fail("usage: memguard seccomp check FILE") }
    do {
        let profile = try SeccompProfile(bytes: FileSystem.readFile(args[1], limit: 4 << 20), what: args[1])
        let summary = try SeccompCompiler.check(profile, what: args[1])
        print("\(args[1]): valid")
        print("  default action: \(summary.defaultAction)")
        print("  architectures:  \(summary.architectures.joined(separator: ", "))")
        print("  rules:          \(summary.rules) (\(summary.redundant) same as the default, left out)")
        if !summary.partial.isEmpty {
            print("  absent on some architectures: \(summary.partial.joined(separator: ", "))")
        }
    } catch {
        fail("seccomp check: \(error)", code: 1)
    }
case "ps":
    exit(PsCommand.run(arguments: args, paths: paths))
case "logs":
    exit(LogsCommand.run(arguments: args, paths: paths))
case "doctor":
    exit(DoctorCommand.run(arguments: args, paths: paths))
case "demo":
    exit(Demo.run(arguments: args, paths: paths))
case "help", "--help", "-h":
    print(usage)
default:
    fail("unknown command '\(command)'\n\(usage)")
}
