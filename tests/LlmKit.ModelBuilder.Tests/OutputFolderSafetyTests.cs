using System.Runtime.InteropServices;
using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>
/// <c>--force</c> never deletes what llmkit did not write (issue 17, finding 1): a working copy, the folder holding
/// the checkpoint and its parent are refused whatever the flags; only a marked folder of conversion files is
/// replaced, by renames, and a failed conversion leaves it as it was.
/// </summary>
public sealed class OutputFolderSafetyTests
{
    [Fact]
    public void Output_dot_in_a_project_folder_is_refused_and_nothing_is_touched()
    {
        using var temp = new TempFolder();
        string project = temp.File("project");
        Directory.CreateDirectory(Path.Combine(project, "src"));
        Directory.CreateDirectory(Path.Combine(project, ".git"));
        File.WriteAllText(Path.Combine(project, "src", "Program.cs"), "class Program {}");
        File.WriteAllText(Path.Combine(project, ".git", "HEAD"), "ref: refs/heads/main\n");
        string[] before = temp.Entries();
        string[] convert = ["convert", "llama2c", "--checkpoint", SharedFixtures.Stories260KCheckpoint, "--tokenizer", SharedFixtures.Stories260KTokenizer, "--output", "."];

        var plain = LlmkitProcess.Run(project, convert);
        var forced = LlmkitProcess.Run(project, [.. convert, "--force"]);

        Assert.Equal(1, plain.Code);
        Assert.Contains($"Output folder '{project}' is not empty", plain.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, forced.Code);
        Assert.Contains($"Output folder '{project}' was not written by llmkit", forced.Stderr, StringComparison.Ordinal);
        Assert.Single(forced.Stderr.TrimEnd().Split('\n'));
        Assert.Equal(before, temp.Entries()); // src/, .git/ and no staging leftovers beside the project
    }

    [Fact]
    public void Output_equal_to_the_checkpoint_folder_is_refused_even_when_it_carries_a_marker()
    {
        using var temp = new TempFolder();
        var (checkpoint, tokenizer) = CopyFixture(temp.File("stories"));
        File.WriteAllText(Path.Combine(temp.File("stories"), OutputFolder.MarkerFileName), """{"tool":"llmkit"}""");
        string[] before = temp.Entries();

        var error = Assert.Throws<IOException>(() => Llama2cConverter.Convert(new(checkpoint, tokenizer, temp.File("stories"), Force: true)));

        Assert.Contains($"Output folder '{temp.File("stories")}' holds the input file '{checkpoint}'", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, temp.Entries());
    }

    [Fact]
    public void Output_equal_to_the_parent_of_the_checkpoint_folder_is_refused()
    {
        using var temp = new TempFolder();
        var (checkpoint, tokenizer) = CopyFixture(Path.Combine(temp.Path, "models", "stories"));
        string[] before = temp.Entries();

        var (code, _, stderr) = RunCli("convert", "llama2c", "--checkpoint", checkpoint, "--tokenizer", tokenizer, "--output", temp.Path + "/", "--force");

        Assert.Equal(1, code);
        Assert.Contains($"Output folder '{temp.Path}' holds the input file '{checkpoint}'", stderr, StringComparison.Ordinal);
        Assert.Equal(before, temp.Entries());
        Assert.True(Directory.Exists(temp.Path));
    }

    [Fact]
    public void Output_reached_through_a_symbolic_link_to_the_checkpoint_folder_is_refused()
    {
        using var temp = new TempFolder();
        var (checkpoint, tokenizer) = CopyFixture(temp.File("stories"));
        string link = temp.File("link");
        Directory.CreateSymbolicLink(link, temp.File("stories"));
        string[] before = temp.Entries();

        var error = Assert.Throws<IOException>(() => Llama2cConverter.Convert(new(checkpoint, tokenizer, link, Force: true)));

        Assert.Contains("holds the input file", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, temp.Entries());
    }

    [Fact]
    public void Force_refuses_a_folder_without_the_marker()
    {
        using var temp = new TempFolder();
        string output = temp.File("out");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "genai_config.json"), "{}"); // looks like a model folder, but not one llmkit wrote
        string[] before = temp.Entries();

        var error = Assert.Throws<IOException>(() => Llama2cConverter.Convert(new(SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, output, Force: true)));

        Assert.Contains($"Output folder '{output}' was not written by llmkit", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, temp.Entries());
    }

    [Fact]
    public void Force_refuses_a_marked_folder_that_holds_files_a_conversion_does_not_write()
    {
        using var temp = new TempFolder();
        string output = temp.File("out");
        Convert(output, force: false);
        File.WriteAllText(Path.Combine(output, "notes.txt"), "mine");
        Directory.CreateDirectory(Path.Combine(output, "runs"));
        string[] before = temp.Entries();

        var error = Assert.Throws<IOException>(() => Convert(output, force: true));

        Assert.Contains("holds 'notes.txt', 'runs', which a conversion does not write", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, temp.Entries());
    }

    [Fact]
    public void Force_replaces_a_folder_llmkit_wrote_by_renames_and_leaves_nothing_beside_it()
    {
        using var temp = new TempFolder();
        string output = temp.File("out");
        Convert(output, force: false, maxLength: 512);

        var summary = Convert(output, force: true, maxLength: 256);

        Assert.Equal(256, summary.ContextLength);
        Assert.Contains("\"context_length\": 256", File.ReadAllText(Path.Combine(output, "genai_config.json")), StringComparison.Ordinal);
        Assert.Equal(["out", .. summary.Files.Select(f => Path.Combine("out", f.Name))], temp.Entries());
        Assert.Contains(summary.Files, f => f.Name == OutputFolder.MarkerFileName);
    }

    [Fact]
    public void A_trailing_separator_names_the_same_folder()
    {
        using var temp = new TempFolder();

        var summary = Llama2cConverter.Convert(new(SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, temp.File("out") + Path.DirectorySeparatorChar));

        Assert.Equal(temp.File("out"), summary.OutputDirectory);
        Assert.Equal(["out", .. summary.Files.Select(f => Path.Combine("out", f.Name))], temp.Entries());
    }

    [Fact]
    public void A_failed_forced_conversion_leaves_the_previous_output_intact()
    {
        using var temp = new TempFolder();
        string output = temp.File("out");
        Convert(output, force: false);
        var before = Snapshot(temp.Path);
        string truncated = temp.File("truncated.bin");
        File.WriteAllBytes(truncated, File.ReadAllBytes(SharedFixtures.Stories260KCheckpoint)[..^1000]);

        var (code, _, stderr) = RunCli("convert", "llama2c", "--checkpoint", truncated, "--tokenizer", SharedFixtures.Stories260KTokenizer, "--output", output, "--force");

        Assert.Equal(1, code);
        Assert.Contains("truncated", stderr, StringComparison.Ordinal);
        File.Delete(truncated);
        Assert.Equal(before, Snapshot(temp.Path));
    }

    [Theory]
    [InlineData("wq", 1, float.NaN, "NaN", "layer 1, element 7")]
    [InlineData("w2", 0, float.PositiveInfinity, "+Infinity", "layer 0, element 7")]
    [InlineData("rms_final_weight", 0, float.NegativeInfinity, "-Infinity", "element 7")]
    public void A_non_finite_weight_is_rejected_naming_the_tensor_and_the_previous_output_survives(string tensor, int layer, float value, string shown, string where)
    {
        using var temp = new TempFolder();
        var config = new LlamaConfig(Dim: 32, HiddenDim: 48, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 270, SeqLen: 16);
        string checkpoint = temp.File("model.bin"), tokenizer = temp.File("tok.bin"), output = temp.File("out");
        CheckpointSynthesizer.Write(checkpoint, config, seed: 5);
        CheckpointSynthesizer.WriteTokenizer(tokenizer, config.VocabSize);
        Llama2cConverter.Convert(new(checkpoint, tokenizer, output));
        var before = Snapshot(output);
        Poison(checkpoint, config, tensor, layer, element: 7, value);

        var error = Assert.Throws<InvalidDataException>(() => Llama2cConverter.Convert(new(checkpoint, tokenizer, output, Force: true)));

        Assert.Contains($"tensor '{tensor}' holds {shown} at {where}", error.Message, StringComparison.Ordinal);
        Assert.Contains(checkpoint, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(output));
        Assert.Equal(["model.bin", "out", "tok.bin"], Directory.EnumerateFileSystemEntries(temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    private static ConversionSummary Convert(string output, bool force, int? maxLength = null) =>
        Llama2cConverter.Convert(new(SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, output, force, OnnxGraphForm.Standard, maxLength));

    private static (int Code, string Stdout, string Stderr) RunCli(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = Cli.CommandLineApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static (string Checkpoint, string Tokenizer) CopyFixture(string folder)
    {
        Directory.CreateDirectory(folder);
        string checkpoint = Path.Combine(folder, "stories260K.bin"), tokenizer = Path.Combine(folder, "tok512.bin");
        File.Copy(SharedFixtures.Stories260KCheckpoint, checkpoint);
        File.Copy(SharedFixtures.Stories260KTokenizer, tokenizer);
        return (checkpoint, tokenizer);
    }

    // Every file under the folder with its bytes, so "intact" means byte for byte.
    private static SortedDictionary<string, string> Snapshot(string folder) => new(
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f), f => System.Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))),
        StringComparer.Ordinal);

    // Overwrites one float of a tensor in the checkpoint file, at the given layer and element.
    private static void Poison(string checkpoint, LlamaConfig config, string tensor, int layer, long element, float value)
    {
        long d = config.Dim, h = config.HiddenDim, l = config.Layers, kv = config.KvDim, v = config.VocabSize;
        (string Name, long PerLayer, long Count)[] order =
        [
            ("token_embedding_table", v * d, 1), ("rms_att_weight", d, l), ("wq", d * d, l), ("wk", kv * d, l), ("wv", kv * d, l),
            ("wo", d * d, l), ("rms_ffn_weight", d, l), ("w1", h * d, l), ("w2", d * h, l), ("w3", h * d, l), ("rms_final_weight", d, 1),
        ];
        long offset = Llama2cCheckpoint.HeaderBytes / sizeof(float);
        foreach (var (name, perLayer, count) in order)
        {
            if (name == tensor)
            {
                offset += (layer * perLayer) + element;
                break;
            }

            offset += perLayer * count;
        }

        using var stream = new FileStream(checkpoint, FileMode.Open, FileAccess.Write);
        stream.Position = offset * sizeof(float);
        stream.Write(MemoryMarshal.AsBytes(new[] { value }.AsSpan()));
    }
}
