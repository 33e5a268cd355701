namespace LlmKit.ModelBuilder;

/// <summary>
/// A folder of converted models (or other generated folders) named by their inputs, safe to share between processes:
/// an entry is written into a staging folder and published by a rename, so it is complete or absent. Entries that
/// nobody has asked for during <see cref="MaxUnusedAge"/> are deleted, so caches keyed by a builder version do not
/// grow by a folder per rebuild.
/// </summary>
/// <remarks>
/// Thread-safe and safe across processes. Using an entry refreshes its folder's last-write time; the first
/// <see cref="GetOrCreate"/> that has to create an entry first deletes entries unused for longer than
/// <see cref="MaxUnusedAge"/> and staging folders of conversions that died more than a day ago. Failures to refresh
/// or delete (a read-only cache, a folder in use) are ignored: they cost disk space, never a result.
/// </remarks>
public sealed class ConvertedModelCache
{
    private static readonly TimeSpan AbandonedStagingAge = TimeSpan.FromDays(1);
    private int _pruned;

    /// <summary>Creates a cache over <paramref name="root"/> (created on first write).</summary>
    /// <param name="root">The cache folder; it should hold nothing but this cache's entries.</param>
    /// <param name="maxUnusedAge">Entries unused for longer are deleted; default 14 days. Must be positive.</param>
    /// <exception cref="ArgumentException"><paramref name="root"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxUnusedAge"/> is not positive.</exception>
    public ConvertedModelCache(string root, TimeSpan? maxUnusedAge = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        MaxUnusedAge = maxUnusedAge ?? TimeSpan.FromDays(14);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxUnusedAge, TimeSpan.Zero, nameof(maxUnusedAge));
        Root = Path.GetFullPath(root);
    }

    /// <summary>The cache folder.</summary>
    public string Root { get; }

    /// <summary>How long an entry may go unused before it is deleted.</summary>
    public TimeSpan MaxUnusedAge { get; }

    /// <summary>
    /// The entry <paramref name="name"/>, created by <paramref name="create"/> when it does not exist yet.
    /// </summary>
    /// <param name="name">The entry's folder name; it should include a hash of everything the content depends on.</param>
    /// <param name="create">Writes the entry into the (not yet existing) folder it is given.</param>
    /// <returns>The entry's full path.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, contains a path separator or starts with a dot.</exception>
    /// <exception cref="IOException">The entry is missing and <see cref="Root"/> cannot be created or written (it or an ancestor is a file, or it is read-only); the message names the path and the problem.</exception>
    public string GetOrCreate(string name, Action<string> create)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(create);
        if (name.IndexOfAny([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar]) >= 0 || name.StartsWith('.'))
        {
            throw new ArgumentException($"'{name}' is not a plain folder name (no separators, no leading dot).", nameof(name));
        }

        string entry = Path.Combine(Root, name);
        if (Directory.Exists(entry))
        {
            Touch(entry);
            return entry;
        }

        string staging = Path.Combine(Root, $".{name}.staging-{Guid.NewGuid():N}");
        EnsureWritableRoot(staging);
        if (Interlocked.Exchange(ref _pruned, 1) == 0)
        {
            Prune(DateTime.UtcNow, keep: entry);
        }

        try
        {
            create(staging);
            Directory.Move(staging, entry);
        }
        catch (IOException) when (Directory.Exists(entry))
        {
            // Another process published the same entry first: theirs is as good as ours.
        }
        finally
        {
            TryDelete(staging);
        }

        return entry;
    }

    /// <summary>
    /// Creates <see cref="Root"/> and proves it writable by creating and removing <paramref name="probe"/>, so a bad
    /// cache location fails here, naming itself, instead of deep inside a converter with an unrelated path.
    /// </summary>
    private void EnsureWritableRoot(string probe)
    {
        if (File.Exists(Root))
        {
            throw new IOException($"Cache folder '{Root}' is a file, not a folder; remove the file or choose another cache location.");
        }

        for (string? ancestor = Path.GetDirectoryName(Root); ancestor is not null; ancestor = Path.GetDirectoryName(ancestor))
        {
            if (File.Exists(ancestor))
            {
                throw new IOException($"Cache folder '{Root}' cannot be created: '{ancestor}' is a file, not a folder. Choose another cache location.");
            }
        }

        try
        {
            Directory.CreateDirectory(Root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cache folder '{Root}' cannot be created ({e.Message}). Choose a writable cache location.", e);
        }

        try
        {
            Directory.CreateDirectory(probe);
            Directory.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cache folder '{Root}' is not writable ({e.Message}). Choose a writable cache location.", e);
        }
    }

    /// <summary>Deletes entries unused for longer than <see cref="MaxUnusedAge"/> and abandoned staging folders.</summary>
    /// <param name="now">The current UTC time.</param>
    /// <param name="keep">A folder never to delete (the entry being created).</param>
    private void Prune(DateTime now, string? keep)
    {
        if (!Directory.Exists(Root))
        {
            return;
        }

        foreach (string folder in Directory.EnumerateDirectories(Root))
        {
            if (string.Equals(folder, keep, StringComparison.Ordinal))
            {
                continue;
            }

            // Hidden folders are staging folders, ours or the converter's own: only the long-abandoned ones go.
            bool staging = Path.GetFileName(folder).StartsWith('.');
            TimeSpan age = now - Directory.GetLastWriteTimeUtc(folder);
            if (age > (staging ? AbandonedStagingAge : MaxUnusedAge))
            {
                TryDelete(folder);
            }
        }
    }

    private static void Touch(string folder)
    {
        try
        {
            Directory.SetLastWriteTimeUtc(folder, DateTime.UtcNow);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A read-only cache still serves its entries; they just age.
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // In use or not ours to delete: try again on a later prune.
        }
    }
}
