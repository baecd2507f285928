"""hacluster's own OCF resource agents (provider ``hacluster``).

``resource.d/hacluster/<Type>`` are small executable shell wrappers that run
``$HACLUSTER_PYTHON -m agents.ocf.<module>``; the logic lives in the modules beside this file:
`dummy` (Dummy), `stateful` (Stateful, promotable) and `ipaddr` (IPaddr, via pyroute2).
`_ocf` holds what all three share: the OCF return codes, instance parameters from the
environment, exit reasons and the action dispatcher.
"""
