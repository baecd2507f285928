"""Pacemaker's controller FSA states and inputs, and the part of its state x input matrix
(`controld_matrix.h`) that changes state.

`next_state` looks a pair up; inputs not listed keep the state (as Pacemaker's matrix maps
them to the same state). Pure data, no behaviour beyond the lookup.
"""

from __future__ import annotations

import enum


class FsaState(enum.Enum):
    STARTING = "S_STARTING"
    PENDING = "S_PENDING"
    ELECTION = "S_ELECTION"
    INTEGRATION = "S_INTEGRATION"
    FINALIZE_JOIN = "S_FINALIZE_JOIN"
    POLICY_ENGINE = "S_POLICY_ENGINE"
    TRANSITION_ENGINE = "S_TRANSITION_ENGINE"
    IDLE = "S_IDLE"
    NOT_DC = "S_NOT_DC"
    RECOVERY = "S_RECOVERY"
    RELEASE_DC = "S_RELEASE_DC"
    STOPPING = "S_STOPPING"
    TERMINATE = "S_TERMINATE"
    HALT = "S_HALT"


class FsaInput(enum.Enum):
    ELECTION = "I_ELECTION"
    ELECTION_DC = "I_ELECTION_DC"
    PENDING = "I_PENDING"
    NOT_DC = "I_NOT_DC"
    NODE_JOIN = "I_NODE_JOIN"
    INTEGRATED = "I_INTEGRATED"
    FINALIZED = "I_FINALIZED"
    PE_CALC = "I_PE_CALC"
    PE_SUCCESS = "I_PE_SUCCESS"
    TE_SUCCESS = "I_TE_SUCCESS"
    FAIL = "I_FAIL"
    STOP = "I_STOP"
    ERROR = "I_ERROR"
    RECOVERED = "I_RECOVERED"


S, In = FsaState, FsaInput
DC_STATES = (S.IDLE, S.INTEGRATION, S.FINALIZE_JOIN, S.POLICY_ENGINE, S.TRANSITION_ENGINE)
TRANSITIONS: dict[tuple[FsaState, FsaInput], FsaState] = {
    **{(s, In.ELECTION): S.ELECTION for s in (*DC_STATES, S.NOT_DC, S.PENDING)},
    # PENDING is ours: our election core can win straight from the dc-wait timer of a
    # node that never saw another DC, without the FSA passing through ELECTION.
    **{(s, In.ELECTION_DC): S.INTEGRATION for s in (S.IDLE, S.ELECTION, S.FINALIZE_JOIN,
                                                    S.NOT_DC, S.POLICY_ENGINE,
                                                    S.TRANSITION_ENGINE, S.PENDING)},
    **{(s, In.PENDING): S.PENDING for s in (*DC_STATES, S.ELECTION, S.NOT_DC, S.STARTING)},
    **{(s, In.NODE_JOIN): S.INTEGRATION for s in (S.IDLE, S.FINALIZE_JOIN, S.POLICY_ENGINE,
                                                  S.TRANSITION_ENGINE)},
    (S.INTEGRATION, In.INTEGRATED): S.FINALIZE_JOIN,
    (S.FINALIZE_JOIN, In.FINALIZED): S.POLICY_ENGINE,
    (S.IDLE, In.PE_CALC): S.POLICY_ENGINE,
    (S.TRANSITION_ENGINE, In.PE_CALC): S.POLICY_ENGINE,
    (S.POLICY_ENGINE, In.PE_SUCCESS): S.TRANSITION_ENGINE,
    (S.TRANSITION_ENGINE, In.TE_SUCCESS): S.IDLE,
    (S.TRANSITION_ENGINE, In.FAIL): S.POLICY_ENGINE,
    (S.PENDING, In.NOT_DC): S.NOT_DC,
    **{(s, In.NOT_DC): S.RECOVERY for s in DC_STATES},
    **{(s, In.STOP): S.STOPPING for s in FsaState if s is not S.TERMINATE},
    **{(s, In.ERROR): S.RECOVERY for s in FsaState if s is not S.STOPPING},
    (S.STOPPING, In.ERROR): S.TERMINATE,
    (S.RECOVERY, In.RECOVERED): S.PENDING,
}


def next_state(state: FsaState, fsa_input: FsaInput) -> FsaState:
    """Pacemaker's matrix lookup; inputs that do not change the state keep it."""
    return TRANSITIONS.get((state, fsa_input), state)
