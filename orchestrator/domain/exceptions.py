"""How a call to a service can fail, as the saga sees it; each step's retry policy
(`orchestrator.domain.steps`) says what it does about each."""


class ServiceUnavailable(Exception):
    """A technical failure (refused, timed out, 5xx, the saga store locked): worth retrying."""


class ContractBroken(Exception):
    """The service answered something the contract does not allow: retrying cannot help."""


class ConflictingOutcome(ContractBroken):
    """The order service holds a different end for the order: a person must look."""
