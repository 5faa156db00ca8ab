"""Layers, containers and losses: stateful modules over the pure kernels of strided.functional."""

from . import init as init  # re-exported: st.nn.init
from .activation import *  # noqa: F403
from .blocks import *  # noqa: F403
from .capture import *  # noqa: F403
from .container import *  # noqa: F403
from .conv import *  # noqa: F403
from .dropout import *  # noqa: F403
from .graph import *  # noqa: F403
from .linear import *  # noqa: F403
from .loss import *  # noqa: F403
from .merge import *  # noqa: F403
from .module import IncompatibleKeys as IncompatibleKeys
from .module import Module as Module
from .module import Parameter as Parameter
from .norm import *  # noqa: F403
from .pad import *  # noqa: F403
from .pool import *  # noqa: F403
