namespace LlmKit.Plugins.FewShot.Storage;

/// <summary>
/// An in-memory pool of examples. Every change increments <see cref="Version"/>, which caches built over the
/// store (embeddings, BM25 statistics) compare to know when to rebuild.
/// </summary>
/// <remarks>
/// Thread-safe: writers take a lock and publish a new immutable snapshot; readers never block and always see a
/// consistent (<see cref="Examples"/>, <see cref="Version"/>) pair through <see cref="GetSnapshot"/>.
/// </remarks>
public sealed class FewShotExampleStore
{
    private readonly Lock _gate = new();
    private StoreSnapshot _snapshot = new([], 0);

    /// <summary>Creates an empty store.</summary>
    public FewShotExampleStore()
    {
    }

    /// <summary>Creates a store holding <paramref name="examples"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="examples"/> or one of its items is null.</exception>
    public FewShotExampleStore(IEnumerable<FewShotExample> examples)
    {
        AddRange(examples);
    }

    /// <summary>The examples in insertion order (an immutable snapshot).</summary>
    public IReadOnlyList<FewShotExample> Examples => Volatile.Read(ref _snapshot).Examples;

    /// <summary>Number of examples.</summary>
    public int Count => Examples.Count;

    /// <summary>Incremented on every change; 0 for a store that was never changed.</summary>
    public long Version => Volatile.Read(ref _snapshot).Version;

    /// <summary>The current examples together with the version they belong to.</summary>
    public StoreSnapshot GetSnapshot() => Volatile.Read(ref _snapshot);

    /// <summary>Adds one example.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="example"/> is null.</exception>
    public void Add(FewShotExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        AddRange([example]);
    }

    /// <summary>Adds several examples in one change.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="examples"/> or one of its items is null.</exception>
    public void AddRange(IEnumerable<FewShotExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var added = examples.ToList();
        for (int i = 0; i < added.Count; i++)
        {
            if (added[i] is null)
            {
                throw new ArgumentNullException(nameof(examples), $"Item {i} of the examples is null.");
            }
        }

        if (added.Count == 0)
        {
            return;
        }

        lock (_gate)
        {
            var current = _snapshot;
            var next = new FewShotExample[current.Examples.Count + added.Count];
            for (int i = 0; i < current.Examples.Count; i++)
            {
                next[i] = current.Examples[i];
            }

            added.CopyTo(next, current.Examples.Count);
            Volatile.Write(ref _snapshot, new StoreSnapshot(next, current.Version + 1));
        }
    }

    /// <summary>Removes an example (compared by reference).</summary>
    /// <returns>True when the example was in the store.</returns>
    public bool Remove(FewShotExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        lock (_gate)
        {
            var current = _snapshot;
            int index = -1;
            for (int i = 0; i < current.Examples.Count; i++)
            {
                if (ReferenceEquals(current.Examples[i], example))
                {
                    index = i;
                    break;
                }
            }

            if (index < 0)
            {
                return false;
            }

            var next = current.Examples.Where((_, i) => i != index).ToArray();
            Volatile.Write(ref _snapshot, new StoreSnapshot(next, current.Version + 1));
            return true;
        }
    }

    /// <summary>Removes every example.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            Volatile.Write(ref _snapshot, new StoreSnapshot([], _snapshot.Version + 1));
        }
    }
}

/// <summary>The examples of a <see cref="FewShotExampleStore"/> at one version.</summary>
/// <param name="Examples">The examples, in insertion order; never modified.</param>
/// <param name="Version">The store version these examples belong to.</param>
public sealed record StoreSnapshot(IReadOnlyList<FewShotExample> Examples, long Version);
