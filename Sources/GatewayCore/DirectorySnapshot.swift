/// The whole directory as a file describes it: the input of a directory sync.
public struct DirectorySnapshot: Sendable, Hashable {
    public var users: [User]
    public var groups: [Group]
    public var resources: [Resource]

    public init(users: [User], groups: [Group], resources: [Resource]) {
        self.users = users
        self.groups = groups
        self.resources = resources
    }
}

/// What a directory sync changed.
public struct DirectorySyncReport: Sendable, Hashable, Codable {
    public var usersAdded = 0
    public var usersUpdated = 0
    public var usersDeactivated = 0
    public var groupsAdded = 0
    public var groupsUpdated = 0
    public var groupsRemoved = 0
    public var resourcesAdded = 0
    public var resourcesUpdated = 0
    public var resourcesDeactivated = 0

    public init() {}

    /// Whether the sync changed anything.
    public var changedAnything: Bool { self != DirectorySyncReport() }
}
