"""The world: BookInfo's objects in the cluster and its reviews/ratings servers."""
