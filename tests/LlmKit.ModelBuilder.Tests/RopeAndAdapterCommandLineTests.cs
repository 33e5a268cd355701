using System.Text.Json;
using LlmKit.ModelBuilder.Cli;
using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>The <c>--rope-scaling</c> and <c>--lora</c> conversion flags and the <c>llmkit adapter</c> command, run in-process.</summary>
public sealed class RopeAndAdapterCommandLineTests
{
    [Fact]
    public void Rope_scaling_extends_the_context_and_is_reported()
    {
        using var temp = new TempFolder();
        var (code, stdout, stderr) = Run("convert", "llama2c", "--checkpoint", SharedFixtures.Stories260KCheckpoint,
            "--tokenizer", SharedFixtures.Stories260KTokenizer, "--output", temp.File("model"), "--rope-scaling", "linear:4");

        Assert.True(code == 0, stderr);
        Assert.Contains("rope scaling: linear x4 (trained at 512, context 2048)", stdout, StringComparison.Ordinal);
        using var config = JsonDocument.Parse(File.ReadAllText(temp.File("model/genai_config.json")));
        Assert.Equal(2048, config.RootElement.GetProperty("model").GetProperty("context_length").GetInt32());
        Assert.Equal(2048, config.RootElement.GetProperty("search").GetProperty("max_length").GetInt32());
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("cubic:2")]
    public void A_bad_rope_scaling_is_a_usage_error_naming_the_flag(string spec)
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = Run("convert", "llama2c", "--checkpoint", SharedFixtures.Stories260KCheckpoint,
            "--tokenizer", SharedFixtures.Stories260KTokenizer, "--output", temp.File("model"), "--rope-scaling", spec);

        Assert.Equal(2, code);
        Assert.Contains("--rope-scaling", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Lora_conversion_then_adapter_writes_an_adapter_file()
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = Run("convert", "llama2c", "--checkpoint", SharedFixtures.Stories260KCheckpoint,
            "--tokenizer", SharedFixtures.Stories260KTokenizer, "--output", temp.File("model"), "--lora");
        Assert.True(code == 0, stderr);

        var config = TestModels.Checkpoint(SharedFixtures.Stories260KCheckpoint).Config;
        SyntheticPeftAdapter.Write(temp.File("peft"), config, rank: 8, alpha: 16, ["q_proj", "v_proj"], seed: 2);
        (code, string stdout, stderr) = Run("adapter", "--base", temp.File("model"), "--peft", temp.File("peft"), "--output", temp.File("tales.onnx_adapter"));

        Assert.True(code == 0, stderr);
        Assert.Contains("rank 8, scale 2 folded into B, 10 projections, 20 tensors", stdout, StringComparison.Ordinal);
        Assert.True(new FileInfo(temp.File("tales.onnx_adapter")).Length > 0);
    }

    [Fact]
    public void Lora_with_the_standard_graph_is_refused()
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = Run("convert", "llama2c", "--checkpoint", SharedFixtures.Stories260KCheckpoint,
            "--tokenizer", SharedFixtures.Stories260KTokenizer, "--output", temp.File("model"), "--lora", "--graph", "standard");

        Assert.Equal(1, code);
        Assert.Contains("LoraInputs needs GraphForm OrtGenAI", stderr, StringComparison.Ordinal);
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = CommandLineApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
