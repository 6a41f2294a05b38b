"""chute: a drop-folder engine (`chute.engine`) and its Textual console (`chute.tui`).

The repository keeps `engine/` and `tui/` as top-level folders; installed, they are this one
namespace, so no top-level `engine` or `tui` import name can collide with another distribution.
"""

__version__ = "0.1.0"
