import Dispatch
import Foundation

/// What the benchmark has made and not cleaned up yet — its node processes and temporary
/// directories — so that an interrupted run (Ctrl-C, SIGTERM, SIGHUP) stops those nodes and
/// removes that data before it exits, instead of leaving gigabytes of logs in the temporary
/// directory. A run killed outright cannot clean up: its nodes, started with
/// `--exit-with-parent … --discard-data-with-parent`, stop and remove their own directories.
enum BenchScratch {
    private static let lock = NSLock()
    // Guarded by `lock`.
    nonisolated(unsafe) private static var paths: Set<String> = []
    nonisolated(unsafe) private static var processes: [ObjectIdentifier: Process] = [:]
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    /// Set when ``cleanUp()`` begins: what is kept from then on is removed at once.
    nonisolated(unsafe) private static var cleaningUp = false

    /// Removes `path` (a directory or a file) on an interruption, until ``forget(path:)``. Kept
    /// once clean-up has begun (a run that went on making things meanwhile), it is removed now.
    static func keep(path: String) {
        let late = lock.withLock { () -> Bool in
            if !cleaningUp { paths.insert(path) }
            return cleaningUp
        }
        if late { remove(path) }
    }

    /// `path` was removed (or is no longer the benchmark's to remove).
    static func forget(path: String) { lock.withLock { _ = paths.remove(path) } }

    /// Stops `process` on an interruption, until ``forget(process:)``.
    static func keep(process: Process) { lock.withLock { processes[ObjectIdentifier(process)] = process } }

    /// `process` has ended.
    static func forget(process: Process) { lock.withLock { _ = processes.removeValue(forKey: ObjectIdentifier(process)) } }

    /// From now on SIGINT, SIGTERM and SIGHUP clean up (``cleanUp()``) and end the process with
    /// status 128 + the signal's number, as a shell reports a process ended by it.
    static func cleanUpOnInterruption() {
        lock.withLock {
            guard sources.isEmpty else { return }
            for number in [SIGINT, SIGTERM, SIGHUP] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler {
                    cleanUp()
                    exit(128 + number)
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    /// Returns at once unless an interruption's clean-up has begun; then waits (at most a minute)
    /// for it to end the process, so the run never exits first with a status of its own.
    static func awaitInterruptionExit() {
        guard lock.withLock({ cleaningUp }) else { return }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// Stops every kept process (SIGTERM, SIGKILL after 5 s) and removes every kept path once
    /// they have all ended.
    static func cleanUp() {
        let (running, kept) = lock.withLock { () -> ([Process], Set<String>) in
            cleaningUp = true
            return (Array(processes.values), paths)
        }
        for process in running where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(5)
        while running.contains(where: \.isRunning) && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        for process in running where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        // A killed node finishes the system call it was in (a file it was creating appears after
        // a removal that already listed the directory): its data goes once it has ended.
        let killed = Date().addingTimeInterval(5)
        while running.contains(where: \.isRunning) && Date() < killed { Thread.sleep(forTimeInterval: 0.02) }
        for path in kept { remove(path) }
    }

    /// Removes `path`, again if something still wrote into it during the removal (a few tries).
    private static func remove(_ path: String) {
        for attempt in 0..<5 {
            try? FileManager.default.removeItem(atPath: path)
            guard FileManager.default.fileExists(atPath: path) else { return }
            Thread.sleep(forTimeInterval: 0.02 * Double(attempt + 1))
        }
    }
}
