using System.Reflection;
using System.Text.Json;

namespace LlmKit.ModelBuilder;

/// <summary>
/// Decides whether a conversion may write to an output folder, and publishes the finished folder by renames.
/// The rules keep <c>--force</c> from ever deleting what the converter did not write: an existing non-empty folder
/// is replaced only when it carries the <see cref="MarkerFileName"/> marker and holds nothing but a conversion's own
/// files, and a folder that holds the input checkpoint or tokenizer is never touched, whatever the flags.
/// </summary>
internal static class OutputFolder
{
    /// <summary>The marker every converted folder carries: proof that llmkit wrote it.</summary>
    public const string MarkerFileName = ".llmkit-output";

    /// <summary>The value of the marker's <c>tool</c> field.</summary>
    public const string MarkerTool = "llmkit";

    /// <summary>Every file name a conversion may write; a folder holding anything else is not replaced.</summary>
    public static readonly IReadOnlySet<string> ConversionFileNames = new HashSet<string>(StringComparer.Ordinal)
    {
        MarkerFileName,
        Llama2cConverter.ModelFileName,
        Llama2cConverter.ExternalDataFileName,
        "genai_config.json",
        "tokenizer.model",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    };

    // Windows and macOS file systems are case-insensitive by default, Linux ones are not.
    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>The full path of <paramref name="path"/> without a trailing separator ("out/" and "out" name one folder).</summary>
    public static string Normalize(string path)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (Path.GetDirectoryName(full) is null)
        {
            throw new ArgumentException($"Output folder '{full}' is a file-system root; choose a folder below it.", nameof(path));
        }

        return full;
    }

    /// <summary>
    /// Throws unless a conversion may publish to <paramref name="output"/>: it is not a file, it does not hold any of
    /// <paramref name="inputs"/>, and it is missing, empty, or (with <paramref name="force"/>) a folder llmkit wrote.
    /// </summary>
    /// <exception cref="IOException">The folder may not be written; the message names it and says why.</exception>
    public static void CheckDestination(string output, IEnumerable<string> inputs, bool force)
    {
        if (File.Exists(output))
        {
            throw new IOException($"Output path '{output}' is a file, not a folder.");
        }

        foreach (string input in inputs)
        {
            if (Holds(output, input))
            {
                throw new IOException(
                    $"Output folder '{output}' holds the input file '{Path.GetFullPath(input)}'; llmkit never writes into or replaces a folder " +
                    "that contains its inputs. Choose an output folder outside it.");
            }
        }

        if (!Directory.Exists(output) || !Directory.EnumerateFileSystemEntries(output).Any())
        {
            return;
        }

        if (!force)
        {
            throw new IOException($"Output folder '{output}' is not empty; choose another folder or pass --force (Force = true) to replace a folder llmkit wrote.");
        }

        CheckReplaceable(output);
    }

    /// <summary>Writes the marker into a finished folder.</summary>
    public static void WriteMarker(string folder, OnnxGraphForm form, WeightPrecision precision)
    {
        using var stream = new FileStream(Path.Combine(folder, MarkerFileName), FileMode.CreateNew, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("tool", MarkerTool);
        json.WriteString("producer", typeof(OutputFolder).Assembly.GetName().Name);
        json.WriteString("version", typeof(OutputFolder).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0");
        json.WriteString("graph", form.ToString());
        json.WriteString("precision", precision.ToString());
        json.WriteString("note", "Written by llmkit convert. 'llmkit convert --force' replaces this folder only while it holds nothing but the files a conversion writes.");
        json.WriteEndObject();
    }

    /// <summary>
    /// Moves the finished <paramref name="staging"/> folder to <paramref name="output"/>. An existing folder is first
    /// checked again (it may have changed during the conversion), renamed aside, and removed file by file only after
    /// the new folder is in place; if the swap fails the old folder is renamed back.
    /// </summary>
    public static void Publish(string staging, string output, IEnumerable<string> inputs, bool force)
    {
        CheckDestination(output, inputs, force);
        if (!Directory.Exists(output))
        {
            Directory.Move(staging, output); // throws if another conversion published first
            return;
        }

        if (!Directory.EnumerateFileSystemEntries(output).Any())
        {
            Directory.Delete(output); // not recursive: fails rather than delete anything that appeared meanwhile
            Directory.Move(staging, output);
            return;
        }

        string old = SiblingName(output, "old");
        Directory.Move(output, old);
        try
        {
            Directory.Move(staging, output);
        }
        catch
        {
            Directory.Move(old, output);
            throw;
        }

        DeleteConversionFiles(old);
    }

    /// <summary>A unique hidden sibling of <paramref name="output"/>, e.g. <c>.model.tmp-&lt;guid&gt;</c>.</summary>
    public static string SiblingName(string output, string purpose) =>
        Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.{purpose}-{Guid.NewGuid():N}");

    private static void CheckReplaceable(string output)
    {
        string marker = Path.Combine(output, MarkerFileName);
        if (!IsMarker(marker))
        {
            throw new IOException(
                $"Output folder '{output}' was not written by llmkit (it has no valid {MarkerFileName} marker); --force replaces only folders " +
                "llmkit wrote. Choose another folder, or empty this one yourself.");
        }

        var foreign = Directory.EnumerateFileSystemEntries(output)
            .Where(entry => Directory.Exists(entry) || !ConversionFileNames.Contains(Path.GetFileName(entry)))
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)
            .Take(3)
            .ToList();
        if (foreign.Count > 0)
        {
            throw new IOException(
                $"Output folder '{output}' holds {string.Join(", ", foreign.Select(f => $"'{f}'"))}, which a conversion does not write; " +
                "--force replaces only folders that hold nothing but a conversion's files. Move them out or choose another folder.");
        }
    }

    private static bool IsMarker(string path)
    {
        if (!File.Exists(path) || new FileInfo(path).Length > 64 * 1024)
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("tool", out var tool)
                && tool.ValueKind == JsonValueKind.String
                && tool.GetString() == MarkerTool;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // Removes only the files a conversion writes, then the folder if that left it empty; anything else stays.
    private static void DeleteConversionFiles(string folder)
    {
        try
        {
            foreach (string name in ConversionFileNames)
            {
                File.Delete(Path.Combine(folder, name));
            }

            Directory.Delete(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Something not ours appeared in the old folder after the check: leave it rather than delete it.
        }
    }

    // True when `path` (an input file) lies inside `folder`, comparing both as given and with symbolic links resolved.
    private static bool Holds(string folder, string path)
    {
        string[] folders = [Path.GetFullPath(folder), RealPath(folder)];
        string[] paths = [Path.GetFullPath(path), RealPath(path)];
        return folders.Any(f => paths.Any(p => IsUnder(p, f)));
    }

    private static bool IsUnder(string path, string folder)
    {
        string prefix = Path.EndsInDirectorySeparator(folder) ? folder : folder + Path.DirectorySeparatorChar;
        return path.StartsWith(prefix, PathComparison) || string.Equals(path, folder, PathComparison);
    }

    /// <summary>The path with every symbolic link along it resolved (components that do not exist are kept as written).</summary>
    private static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string current = Path.GetPathRoot(full)!;
        foreach (string part in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (info.Exists && info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
            {
                current = Path.GetFullPath(target.FullName);
            }
        }

        return current;
    }
}
