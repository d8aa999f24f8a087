"""The lab on Docker Swarm: the same programs spread over a room of machines (docs/swarm.md).

``stack``   the stack file, derived from compose.yaml and the catalogue (services/roles.py)
``engine``  what the swarm says: this node's state, the nodes and their labels, the stack's tasks
``lab``     ``scripts/lab up --swarm`` / ``down --swarm``: deploy, wait, report; remove, report captures
``own``     ``scripts/lab own --swarm``: a student's program in a role's place, on this node
``ship``    ``scripts/lab swarm ship``: the image to the other nodes without a registry
``grade``   ``scripts/lab grade --swarm``: a one-shot task per team, results collected on the manager
``gradetask`` what runs in such a task: the local grader for one team, on its node
``parcel``, ``teamdoc``  what a task sends back through its log: the team's result and files
"""
