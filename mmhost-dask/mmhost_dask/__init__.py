"""mmhost-dask: run mmhost's parallel plugins across a Dask cluster.

`cli` parses `mmhost-dask run`; `driver` carries out a run (plan, chunks
on the cluster, reduce, commit); `tasks` is what runs on the workers;
`host` the calls of the `mmhost` binary; `progress` the bar on stderr.
See README.md beside this package.
"""

__version__ = "0.1.0"
