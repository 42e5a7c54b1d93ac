import CSeccomp
import Glibc
import MemguardCore
import MemguardProbes

/// `memguard doctor`: one line per prerequisite, with a fix where one fails.
public enum DoctorCommand {
    public enum Status: String { case ok, warn, fail, info }

    public struct Check {
        public var name: String
        public var status: Status
        public var detail: String
        public var fix: String?
    }

    public static func checks(paths: MemguardPaths) -> [Check] {
        var out: [Check] = []
        func add(_ name: String, _ status: Status, _ detail: String, fix: String? = nil) {
            out.append(Check(name: name, status: status, detail: detail, fix: status == .ok || status == .info ? nil : fix))
        }
        add("root", getuid() == 0 ? .ok : .fail, getuid() == 0 ? "running as root" : "running as uid \(getuid())",
            fix: "run memguard as root: it loads BPF programs")
        let btf = access(paths.btfPath, R_OK) == 0
        add("kernel BTF", btf ? .ok : .fail, btf ? paths.btfPath : "no \(paths.btfPath)",
            fix: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y")
        let pinParent = paths.pinDir.split(separator: "/").dropLast().joined(separator: "/")
        let bpffs = BPFFilesystem.isBPFFS("/" + pinParent)
        add("bpffs", bpffs ? .ok : .warn, bpffs ? "mounted at /\(pinParent)" : "not mounted at /\(pinParent) (the hook mounts /sys/fs/bpf itself)",
            fix: "mount -t bpf bpf /sys/fs/bpf")
        let tracefs = BPFFilesystem.isMount("/sys/kernel/tracing")
        add("tracefs", .info, tracefs ? "mounted (not needed: memguard uses tp_btf)" : "not mounted (not needed: memguard uses tp_btf)")
        if let mount = try? ContainerScope.cgroup2Mount(mountInfo: FileSystem.readText("/proc/self/mountinfo")) {
            let hybrid = mount != "/sys/fs/cgroup"
            add("cgroup v2", .ok, hybrid ? "hybrid: cgroup2 at \(mount), v1 controllers beside it" : "unified at \(mount)")
        } else {
            add("cgroup v2", .fail, "no cgroup2 mount", fix: "mount -t cgroup2 none /sys/fs/cgroup/unified")
        }
        if getuid() == 0 && btf {
            do {
                try ProbeSet.checkLoad(paths: paths)
                add("BPF programs", .ok, "tp_btf sys_enter, sys_exit, sched_process_exec load (enforcement: kill at syscall entry)")
            } catch {
                add("BPF programs", .fail, "\(error)", fix: "see the verifier log above; kernels before 5.17 lack bpf_find_vma")
            }
        }
        add("BPF LSM", .info, lsmAvailable() ? "bpf is in the LSM list (not used by this version)" : "not available here; not needed")
        let v = seccomp_version()
        add("libseccomp", .ok, v.map { "\($0.pointee.major).\($0.pointee.minor).\($0.pointee.micro)" } ?? "present")
        let runc = (["/usr/local/sbin/runc", "/usr/sbin/runc", "/usr/bin/runc"] as [String]).first { access($0, X_OK) == 0 }
        add("runtime", runc != nil ? .ok : .fail, runc ?? "runc not found", fix: "apt-get install runc, or set \"runtime\" in \(paths.configDir)/memguard.json")
        let me = (try? selfExecutablePath()) ?? "/usr/local/bin/memguard"
        let wrapper = String(me[..<(me.lastIndex(of: "/") ?? me.startIndex)]) + "/memguard-runc"
        add("memguard-runc", FileSystem.exists(wrapper) ? .ok : .warn, FileSystem.exists(wrapper) ? wrapper : "no \(wrapper)",
            fix: "./install.sh (links memguard-runc next to memguard)")
        let toml = "/etc/containerd/config.toml"
        if FileSystem.exists(toml) {
            let registered = ((try? FileSystem.readText(toml, limit: 4 << 20)) ?? "").contains("containerd.runtimes.memguard]")
            add("containerd", registered ? .ok : .warn, registered ? "runtime \"memguard\" registered in \(toml)" : "\(toml) has no memguard runtime",
                fix: "./install.sh --containerd, then restart containerd")
        } else {
            add("containerd", .info, "no \(toml)")
        }
        // podman's and CRI-O's default directory; the /etc one only where hooks_dir names it.
        let hooksDir = "/usr/share/containers/oci/hooks.d"
        let hooks = FileSystem.list(hooksDir).filter { $0.hasPrefix("memguard") }
        add("podman/CRI-O hooks.d", hooks.count == 2 ? .ok : .warn,
            hooks.isEmpty ? "no memguard entries in \(hooksDir) (podman's and CRI-O's default)" : "\(hooksDir): \(hooks.sorted().joined(separator: ", "))",
            fix: "./install.sh installs them")
        do {
            _ = try HostConfig.load(paths: paths)
            add("host policy", .ok, FileSystem.exists("\(paths.configDir)/\(HostConfig.fileName)") ? "\(paths.configDir)/\(HostConfig.fileName) is valid" : "no \(HostConfig.fileName): built-in defaults")
        } catch {
            add("host policy", .fail, "\(error)", fix: "fix the key named above")
        }
        for (name, dir) in [("log directory", paths.logDir), ("state directory", paths.stateDir), ("data directory", paths.dataDir)] as [(String, String)] {
            var st = stat()
            if stat(dir, &st) != 0 {
                add(name, .info, "\(dir) does not exist yet (created on first use)")
            } else if st.st_mode & 0o002 != 0 {
                add(name, .fail, "\(dir) is world-writable", fix: "chmod 0750 \(dir)")
            } else {
                add(name, .ok, dir)
            }
        }
        return out
    }

    static func lsmAvailable() -> Bool {
        ((try? FileSystem.readText("/sys/kernel/security/lsm", limit: 4096)) ?? "").split(separator: ",").contains("bpf")
    }

    public static func run(arguments: [String], paths: MemguardPaths) -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print("usage: memguard doctor [--json]\n\nChecks every prerequisite (BTF, bpffs, cgroups, BPF programs, runtime, engine registration, directories) and says how to fix what fails. Exit 1 if anything fails.")
            return 0
        }
        guard arguments.allSatisfy({ $0 == "--json" }) else {
            printError("memguard doctor: unknown argument (see memguard doctor --help)")
            return 2
        }
        let results = checks(paths: paths)
        if arguments.contains("--json") {
            print("[" + results.map { c in
                var line = JSONLine()
                line.add("check", c.name)
                line.add("status", c.status.rawValue)
                line.add("detail", c.detail)
                if let fix = c.fix { line.add("fix", fix) }
                return line.rendered
            }.joined(separator: ",") + "]")
        } else {
            print(Table.render(["CHECK", "STATUS", "DETAIL"], results.map { c in
                [c.name, c.status.rawValue.uppercased(), c.detail + (c.fix.map { "  -> fix: \($0)" } ?? "")]
            }), terminator: "")
        }
        return results.contains { $0.status == .fail } ? 1 : 0
    }
}
