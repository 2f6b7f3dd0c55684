/// An ACL enum as the protocol numbers it (security.proto): each case's position from 1, in
/// declaration order, with 0 on the wire meaning "not set". Keep the cases' order when adding.
public protocol AclWireNumbered: CaseIterable, Equatable where AllCases == [Self] {}

extension AclWireNumbered {
    /// The case's number on the wire (1…).
    public var wireNumber: Int { Self.allCases.firstIndex(of: self)! + 1 }

    /// The case numbered `wireNumber` on the wire; nil for 0 ("not set") or a number it does not know.
    public init?(wireNumber: Int) {
        guard (1...Self.allCases.count).contains(wireNumber) else { return nil }
        self = Self.allCases[wireNumber - 1]
    }
}

extension AclOperation: AclWireNumbered {}
extension AclPermission: AclWireNumbered {}
extension AclResourceType: AclWireNumbered {}
extension AclPatternType: AclWireNumbered {}
