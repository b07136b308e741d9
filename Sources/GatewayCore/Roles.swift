/// A user's role in the directory.
///
/// Three roles review every request for every resource: ``admin``, ``devops`` and
/// ``accessReviewer``. ``support`` and ``member`` have no review rights of their own; such a user
/// may still review a resource's requests as a member of one of its approver groups.
public enum AdminRole: String, Sendable, Codable, CaseIterable, Hashable {
    case admin
    case devops
    case accessReviewer = "access_reviewer"
    case support
    case member

    /// The roles that review every request for every resource.
    public static let reviewingEverything: Set<AdminRole> = Set(allCases.filter(\.reviewsEverything))

    /// Whether this role alone allows reviewing every request for every resource.
    public var reviewsEverything: Bool {
        switch self {
        case .admin, .devops, .accessReviewer: true
        case .support, .member: false
        }
    }

    /// Whether this role may change the directory (approver groups, group members, notification
    /// settings) through the web pages or a personal API key.
    public var editsDirectory: Bool { self == .admin || self == .devops }
}
