import Foundation
import ServiceLifecycle

/// Ends once `parent` is no longer this process's parent (it died, and the process was handed to
/// another): a node that a tool starts for a while (`ganglion bench`) then shuts down gracefully,
/// as its service group does when one of its services ends, instead of running on as an orphan
/// when the tool is killed or crashes before stopping it.
struct ParentWatch: Service {
    /// The process that started this one.
    let parent: pid_t
    /// How often the parent is looked at.
    var interval: Duration = .milliseconds(200)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled && getppid() == parent {
                try? await Task.sleep(for: interval)
            }
        }
    }
}
