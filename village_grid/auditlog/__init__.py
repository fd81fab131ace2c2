"""Reading the audit log: the /audit page, each entry in a person's words.

Writing it is ``village_grid/audit`` (every domain's services record there, so it
sits below them); this page reads every domain's words and scope, so it sits
above them.
"""
