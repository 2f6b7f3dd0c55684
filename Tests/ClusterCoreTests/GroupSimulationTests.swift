import ClusterCore
import Foundation
import GanglionTestKit
import XCTest

/// Seeded simulation of a consumer group: members join, leave, crash and stall while heartbeats
/// and answers are delayed. After every event no two members the coordinator considers alive
/// hold the same partition, and commits from fenced members are refused. Once the chaos stops,
/// every partition is owned exactly once, balanced within one. A failure prints its seed.
final class GroupSimulationTests: XCTestCase {
    /// A simulated consumer: what it thinks it owns, and its one heartbeat in flight.
    private struct Client {
        var id: MemberID?
        var epoch: Int32 = 0
        var owned: Set<TopicPartition> = []
        var crashed = false
        var leaving = false
        var nextHeartbeat: Int64
        /// A heartbeat on its way: when the coordinator sees it, and what it carries.
        var request: (arrives: Int64, heartbeat: MemberHeartbeat)?
        /// An answer on its way back.
        var response: (arrives: Int64, result: Result<HeartbeatResponse, GroupError>)?
    }

    private static let seeds: [UInt64] = ProcessInfo.processInfo.environment["GANGLION_GROUP_SEED"].flatMap(UInt64.init).map { [$0] }
        ?? Array(1...UInt64(ProcessInfo.processInfo.environment["GANGLION_GROUP_SEEDS"].flatMap(Int.init) ?? 300))

    func testNoPartitionHasTwoLiveOwnersAndTheGroupSettles() {
        var failures: [String] = []
        for seed in Self.seeds {
            if let failure = simulate(seed: seed) { failures.append("seed \(seed): \(failure)") }
            if failures.count >= 5 { break }
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n") + "\n(replay one with GANGLION_GROUP_SEED=<seed>)")
    }

    private func simulate(seed: UInt64) -> String? {
        var random = SeededGenerator(seed: seed)
        let topics: [String: Int32] = ["orders": Int32(1 + random.next() % 12), "payments": Int32(random.next() % 5)]
        let subscriptions = Set(topics.keys)
        var coordinator = GroupCoordinator(groupID: "sim", sessionTimeout: 3000, rebalanceTimeout: 5000)
        coordinator.updateTopics(topics)
        var clients: [Client] = []
        var now: Int64 = 0
        let chaosEnds: Int64 = 20_000 + Int64(random.next() % 20_000)

        func delay() -> Int64 { Int64(random.next() % 100) + (random.next() % 20 == 0 ? Int64(random.next() % 4000) : 0) }

        while now < chaosEnds + 30_000 {
            now += 10
            let chaos = now < chaosEnds
            // Membership churn.
            if chaos && random.next() % 200 == 0 && clients.filter({ !$0.crashed }).count < 8 {
                clients.append(Client(nextHeartbeat: now))
            }
            if chaos && random.next() % 600 == 0, let index = clients.indices.filter({ !clients[$0].crashed }).randomElement(using: &random) {
                if random.next() % 2 == 0 { clients[index].crashed = true } else { clients[index].leaving = true }
            }
            _ = coordinator.expireMembers(now: now)
            for index in clients.indices where !clients[index].crashed {
                // Deliver an answer.
                if let response = clients[index].response, response.arrives <= now {
                    clients[index].response = nil
                    switch response.result {
                    case .success(let answer):
                        if answer.memberEpoch == MemberHeartbeat.leaveEpoch {
                            clients[index].crashed = true  // left for good
                            clients[index].owned = []
                            continue
                        }
                        clients[index].id = answer.memberID
                        clients[index].epoch = answer.memberEpoch
                        // Revoke (commit first, then stop) what is no longer assigned; take the rest.
                        for partition in clients[index].owned.subtracting(answer.assignment) {
                            if let error = commit(&coordinator, clients[index], partition, offset: now) { return error }
                        }
                        clients[index].owned = answer.assignment
                    case .failure:
                        // Fenced or unknown: drop everything and rejoin.
                        clients[index] = Client(nextHeartbeat: now)
                    }
                }
                // Deliver a request.
                if let request = clients[index].request, request.arrives <= now {
                    clients[index].request = nil
                    let result: Result<HeartbeatResponse, GroupError>
                    do { result = .success(try coordinator.heartbeat(request.heartbeat, now: request.arrives)) }
                    catch { result = .failure(error) }
                    clients[index].response = (now + (chaos ? delay() : 1), result)
                }
                // Send the next heartbeat when nothing is in flight.
                if clients[index].request == nil, clients[index].response == nil, clients[index].nextHeartbeat <= now {
                    let epoch = clients[index].leaving ? MemberHeartbeat.leaveEpoch : (clients[index].id == nil ? 0 : clients[index].epoch)
                    let heartbeat = MemberHeartbeat(memberID: clients[index].id, memberEpoch: epoch,
                                                    subscribedTopics: clients[index].id == nil ? subscriptions : nil,
                                                    ownedPartitions: clients[index].owned)
                    clients[index].request = (now + (chaos ? delay() : 1), heartbeat)
                    clients[index].nextHeartbeat = now + 500
                }
                // Work: commit progress on owned partitions now and then.
                if chaos, random.next() % 50 == 0, let partition = clients[index].owned.randomElement(using: &random) {
                    if let error = commit(&coordinator, clients[index], partition, offset: now) { return error }
                }
            }
            // The invariant: members the coordinator considers alive never hold the same partition.
            var holder: [TopicPartition: MemberID] = [:]
            for client in clients where !client.crashed {
                guard let id = client.id, coordinator.members[id] != nil else { continue }
                for partition in client.owned {
                    if let other = holder[partition] { return "at \(now) ms \(partition) is owned by both \(other) and \(id)" }
                    holder[partition] = id
                }
            }
        }
        // Settled: every partition owned exactly once by a live member, balanced within one.
        let live = clients.filter { !$0.crashed && $0.id.map { coordinator.members[$0] != nil } == true }
        let owned = live.flatMap(\.owned)
        let expected = topics.values.reduce(0) { $0 + Int($1) }
        if live.isEmpty { return nil }
        guard owned.count == expected, Set(owned).count == expected else {
            return "after settling, \(owned.count) partitions owned (\(Set(owned).count) distinct), expected \(expected)"
        }
        let counts = live.map(\.owned.count)
        guard counts.max()! - counts.min()! <= 1 else { return "after settling, unbalanced: \(counts)" }
        guard coordinator.members.values.allSatisfy({ $0.state == .stable }) else { return "after settling, members not stable" }
        return nil
    }

    /// Commits for a client; a refusal is fine only when the client is no longer a live holder.
    private func commit(_ coordinator: inout GroupCoordinator, _ client: Client, _ partition: TopicPartition, offset: Int64) -> String? {
        guard let id = client.id else { return nil }
        do {
            try coordinator.commit(memberID: id, memberEpoch: client.epoch, partition: partition, offset: offset)
            // An accepted commit must come from the partition's holder.
            if coordinator.holders[partition] != id { return "commit of \(partition) by \(id) accepted, but \(coordinator.holders[partition].map(\.value) ?? "nobody") holds it" }
        } catch {
            if let member = coordinator.members[id], member.held.contains(partition), member.memberEpoch == client.epoch {
                return "commit of \(partition) by its live holder \(id) refused: \(error)"
            }
        }
        return nil
    }
}
