"""The lab on Docker Swarm: the same programs spread over a room of machines (docs/swarm.md).

``stack``   the stack file, derived from compose.yaml and the catalogue (services/roles.py)
``engine``  what the swarm says: this node's state, the nodes and their labels, the stack's tasks
``lab``     ``scripts/lab up --swarm`` / ``down --swarm``: deploy, wait, report; remove, report captures
``own``     ``scripts/lab own --swarm``: a student's program in a role's place, on this node
``ship``    ``scripts/lab swarm ship``: the image to the other nodes without a registry
"""
