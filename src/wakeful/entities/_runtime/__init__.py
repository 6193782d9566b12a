"""The handler pass, step by step: private, for :class:`wakeful.entities.runtime.Runtime`.

A :class:`~.handler_pass.Pass` is made for each claimed wake and owns everything about
it. Each step of its life is a module: gathering the inputs (:mod:`.inputs`), trying the
handler (:mod:`.attempts`), flushing progress while it runs (:mod:`.flushes`), holding
the lease and watching for signals (:mod:`.watchers`), and assembling the commit
(:mod:`.commit`). :class:`~.runner.PassRunner` holds what the passes of one runtime share.
"""
