<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16-Białowieża" styleCategories="Symbology">
  <pipe-data-defined-properties>
    <Option type="Map">
      <Option name="name" type="QString" value=""/>
      <Option name="properties"/>
      <Option name="type" type="QString" value="collection"/>
    </Option>
  </pipe-data-defined-properties>
  <pipe>
    <provider>
      <resampling enabled="false" zoomedInResamplingMethod="nearestNeighbour" maxOversampling="2" zoomedOutResamplingMethod="nearestNeighbour"/>
    </provider>
    <rasterrenderer nodataColor="" type="paletted" opacity="1" band="1" alphaBand="-1">
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <colorPalette>
        <paletteEntry alpha="255" color="#000000" label="0 bg non-ore" value="0"/>
        <paletteEntry alpha="255" color="#ffa500" label="1 ccp chalcopyrite" value="1"/>
        <paletteEntry alpha="255" color="#9acd32" label="2 gl galena" value="2"/>
        <paletteEntry alpha="255" color="#ff4500" label="3 mag magnetite" value="3"/>
        <paletteEntry alpha="255" color="#00bfff" label="4 br bornite" value="4"/>
        <paletteEntry alpha="255" color="#a9a9a9" label="5 po pyrrhotite" value="5"/>
        <paletteEntry alpha="255" color="#2f4f4f" label="6 py pyrite" value="6"/>
        <paletteEntry alpha="255" color="#ffff00" label="7 pn pentlandite" value="7"/>
        <paletteEntry alpha="255" color="#ee82ee" label="8 sh sphalerite" value="8"/>
        <paletteEntry alpha="255" color="#556b2f" label="9 apy arsenopyrite" value="9"/>
        <paletteEntry alpha="255" color="#a0522d" label="10 gmt hematite" value="10"/>
        <paletteEntry alpha="255" color="#483d8b" label="11 tnt tennantite" value="11"/>
        <paletteEntry alpha="255" color="#008000" label="12 cv covellite" value="12"/>
        <paletteEntry alpha="255" color="#00008b" label="13 mrc marcasite" value="13"/>
        <paletteEntry alpha="255" color="#8b008b" label="14 au native gold" value="14"/>
      </colorPalette>
    </rasterrenderer>
    <brightnesscontrast brightness="0" gamma="1" contrast="0"/>
    <huesaturation colorizeOn="0" colorizeRed="255" saturation="0" grayscaleMode="0" colorizeGreen="128" invertColors="0" colorizeBlue="128" colorizeStrength="100"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
