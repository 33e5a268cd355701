using LlmKit.ModelBuilder.Cli;
using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>The <c>llmkit</c> commands, run in-process.</summary>
public sealed class CommandLineTests
{
    [Fact]
    public void ConvertPrintsASummaryAndExitsZero()
    {
        using var temp = new TempFolder();
        string output = temp.File("model");

        var (code, stdout, stderr) = Run("convert", "llama2c", "--checkpoint", SharedFixtures.Stories260KCheckpoint,
            "--tokenizer", SharedFixtures.Stories260KTokenizer, "--output", output);

        Assert.Equal(0, code);
        Assert.Empty(stderr);
        Assert.Contains("dim 64, hidden 172, layers 5, heads 8, kv_heads 4, head_size 8, vocab 512, context 512", stdout, StringComparison.Ordinal);
        Assert.Contains("parameters: 260,032", stdout, StringComparison.Ordinal);
        Assert.Contains("model.onnx", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(output, "model.onnx")));
        Assert.True(File.Exists(Path.Combine(output, "genai_config.json")));
        Assert.True(File.Exists(Path.Combine(output, "tokenizer.json")));
        Assert.Contains("(OrtGenAI graph, Fp32)", stdout, StringComparison.Ordinal); // the official form is the default
        var model = Onnx.Protos.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(output, "model.onnx")));
        Assert.Contains(model.Graph.Node, n => n.OpType == "GroupQueryAttention");
    }

    [Fact]
    public void ConvertStillWritesTheStandardFormWhenAsked()
    {
        using var temp = new TempFolder();

        var (code, stdout, _) = Run("convert", "llama2c", "--checkpoint", SharedFixtures.Stories260KCheckpoint,
            "--tokenizer", SharedFixtures.Stories260KTokenizer, "--output", temp.File("standard"), "--graph", "standard");

        Assert.Equal(0, code);
        Assert.Contains("(Standard graph, Fp32)", stdout, StringComparison.Ordinal);
        var model = Onnx.Protos.ModelProto.Parser.ParseFrom(File.ReadAllBytes(temp.File("standard/model.onnx")));
        Assert.DoesNotContain(model.Graph.Node, n => n.Domain == "com.microsoft");
    }

    [Theory]
    [InlineData(new string[0], 4L)]
    [InlineData(new[] { "--int4-accuracy-level", "0" }, null)]
    [InlineData(new[] { "--int4-accuracy-level", "1" }, 1L)]
    public void Int4AccuracyLevelIsFourByDefaultAndZeroLeavesItOut(string[] flag, long? expected)
    {
        using var temp = new TempFolder();

        var (code, stdout, _) = Run(["convert", "llama2c", "--checkpoint", SharedFixtures.Stories260KCheckpoint, "--tokenizer", SharedFixtures.Stories260KTokenizer,
            "--output", temp.File("int4"), "--precision", "int4", .. flag]);

        Assert.Equal(0, code);
        Assert.Contains(expected is null ? "exact fp32 activations" : $"accuracy_level {expected}", stdout, StringComparison.Ordinal);
        var model = Onnx.Protos.ModelProto.Parser.ParseFrom(File.ReadAllBytes(temp.File("int4/model.onnx")));
        var levels = model.Graph.Node.Where(n => n.OpType == "MatMulNBits")
            .Select(n => n.Attribute.SingleOrDefault(a => a.Name == "accuracy_level")?.I).Distinct().ToList();
        Assert.Equal([expected], levels);
    }

    [Fact]
    public void ConvertIntoNonEmptyFolderFailsWithOneLineUnlessForced()
    {
        using var temp = new TempFolder();
        string output = temp.File("model");
        string[] args = ["convert", "llama2c", "--checkpoint", SharedFixtures.Stories260KCheckpoint, "--tokenizer", SharedFixtures.Stories260KTokenizer, "--output", output];
        Assert.Equal(0, Run(args).Code);

        var (code, stdout, stderr) = Run(args);
        Assert.Equal(1, code);
        Assert.Empty(stdout);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains("not empty", stderr, StringComparison.Ordinal);

        Assert.Equal(0, Run([.. args, "--force"]).Code);
    }

    [Fact]
    public void ConvertWritesTheOrtGenAIFormWithInt4Weights()
    {
        using var temp = new TempFolder();
        string[] args = ["convert", "llama2c", "--checkpoint", SharedFixtures.Stories260KCheckpoint, "--tokenizer", SharedFixtures.Stories260KTokenizer];

        var (code, stdout, _) = Run([.. args, "--output", temp.File("int4"), "--graph", "ortgenai", "--precision", "int4", "--int4-zero-points"]);
        Assert.Equal(0, code);
        Assert.Contains("(OrtGenAI graph, Int4)", stdout, StringComparison.Ordinal);

        var refused = Run([.. args, "--output", temp.File("refused"), "--graph", "standard", "--precision", "int4"]);
        Assert.Equal(1, refused.Code);
        Assert.Contains("OrtGenAI", refused.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.File("refused")));
    }

    [Fact]
    public void MissingCheckpointFailsWithOneLineNamingIt()
    {
        using var temp = new TempFolder();
        string missing = temp.File("missing.bin");

        var (code, _, stderr) = Run("convert", "llama2c", "--checkpoint", missing, "--tokenizer", SharedFixtures.Stories260KTokenizer, "--output", temp.File("out"));

        Assert.Equal(1, code);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains(missing, stderr, StringComparison.Ordinal);
        Assert.Empty(temp.Entries());
    }

    [Theory]
    [InlineData("convert", "llama2c", "--checkpoint", "a.bin", "--tokenizer", "t.bin", "--output", "o", "--graph", "bogus")]
    [InlineData("convert", "llama2c", "--tokenizer", "t.bin", "--output", "o")]
    [InlineData("convert", "llama2c", "--checkpoint", "a.bin", "--tokenizer", "t.bin", "--output", "o", "--int4-accuracy-level", "5")]
    [InlineData("frobnicate")]
    public void BadUsageExitsTwo(params string[] args)
    {
        var (code, _, stderr) = Run(args);

        Assert.Equal(2, code);
        Assert.StartsWith("llmkit: ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void SynthThenConvertProducesALoadableFolder()
    {
        using var temp = new TempFolder();
        string checkpoint = temp.File("synth.bin"), tokenizer = temp.File("synth-tok.bin"), output = temp.File("model");

        var synth = Run("synth", "llama2c", "--dim", "32", "--hidden", "40", "--layers", "1", "--heads", "4", "--kv-heads", "2",
            "--vocab", "270", "--seq-len", "16", "--seed", "7", "--untied", "--output", checkpoint, "--tokenizer-output", tokenizer);
        Assert.Equal(0, synth.Code);

        var config = Llama2cCheckpoint.ReadHeader(checkpoint).Config;
        Assert.Equal(new LlamaConfig(32, 40, 1, 4, 2, 270, 16, SharedClassifier: false), config);

        Assert.Equal(0, Run("convert", "llama2c", "--checkpoint", checkpoint, "--tokenizer", tokenizer, "--output", output).Code);
        using var decoder = new OrtDecoder(output);
        var (logits, _) = decoder.Prefill([1, 100, 200]);
        Assert.Equal(3 * 270, logits.Length);
        Assert.All(logits, value => Assert.True(float.IsFinite(value)));
    }

    [Fact]
    public void SynthRejectsAnInvalidShapeWithOneLine()
    {
        using var temp = new TempFolder();

        var (code, _, stderr) = Run("synth", "llama2c", "--dim", "30", "--hidden", "40", "--layers", "1", "--heads", "4", "--kv-heads", "2",
            "--vocab", "270", "--seq-len", "16", "--output", temp.File("x.bin"));

        Assert.Equal(1, code);
        Assert.Contains("Heads must divide Dim", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void EntryPointReturnsTheExitCode()
    {
        Assert.Equal(2, Program.Main(["no-such-command"]));
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = CommandLineApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
