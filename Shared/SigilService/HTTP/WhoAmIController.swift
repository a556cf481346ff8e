import Hummingbird

/// `GET /v1/whoami`: the tenant and role of the presented token; how operators check a token.
struct WhoAmIController {
    func add(to group: RouterGroup<AdminRequestContext>) {
        group.get("/whoami") { _, context in
            let principal = try context.requirePrincipal(Set(AdminRole.allCases))
            return OperationsController.json(.ok, principal)
        }
        group.refuseOtherMethods("/whoami", allowed: [.get])
    }
}
